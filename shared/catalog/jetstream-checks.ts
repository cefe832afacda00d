import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { MeridianError } from '../errors/index.js';
import { kvStreamName } from './layout.js';

/*
 * nats.js reports "jetstream is not enabled" for any JetStream request nobody answers: a KV write
 * to a bucket that was deleted gets it too. These checks tell the two apart, so the log says
 * what is really wrong.
 */

/** True when `error` (or its cause) is nats.js's "jetstream is not enabled" (no responders, or an account without JetStream). */
export function isJetStreamNotEnabled(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e.name === 'JetStreamNotEnabled') return true;
    if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.JetStreamNotEnabledForAccount) return true;
  }
  return false;
}

/** True when `error` (or its cause) says the stream (a KV bucket's) does not exist. */
export function isStreamNotFound(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound) return true;
  }
  return false;
}

/** The error of a server without JetStream, naming the server. */
export function jetStreamDisabledError(url: string, cause: unknown): MeridianError {
  return new MeridianError(
    'MERIDIAN_ERR_JETSTREAM_DISABLED',
    `JetStream is not enabled on ${url}: the catalog needs it (start nats-server with -js, or a jetstream {} block in its config)`,
    { cause },
  );
}

/**
 * Asks the server for its JetStream account info (`$JS.API.INFO`) and fails fast, naming `url`,
 * when nobody answers: without this, creating a bucket retries for its whole deadline and then
 * reports something unrelated. Other failures (a timeout while a supercluster elects its meta
 * leader) are left to the caller's retries.
 */
export async function assertJetStream(nc: NatsConnection, url: string, timeoutMs = 5000): Promise<void> {
  try {
    await jetstreamManager(nc, { timeout: timeoutMs });
  } catch (cause) {
    if (isJetStreamNotEnabled(cause)) throw jetStreamDisabledError(url, cause);
  }
}

/**
 * Explains a failed write to `bucket`: when nats.js says "jetstream is not enabled", `probe` (a
 * stream info request on the bucket) tells a missing bucket apart from a server without
 * JetStream. Returns the error to report.
 */
export async function explainBucketFailure(bucket: string, cause: Error, probe: () => Promise<unknown>): Promise<Error> {
  if (!isJetStreamNotEnabled(cause)) return cause;
  try {
    await probe();
    return cause;
  } catch (error) {
    if (isStreamNotFound(error)) {
      return new MeridianError('MERIDIAN_ERR_BUCKET_MISSING', `bucket ${bucket} is missing (the site's control service recreates it)`, { cause });
    }
    return isJetStreamNotEnabled(error) ? new MeridianError('MERIDIAN_ERR_JETSTREAM_DISABLED', `JetStream is not enabled on the site's NATS server (writing bucket ${bucket})`, { cause }) : cause;
  }
}

/** {@link explainBucketFailure} for a bucket known by name only: the probe asks for its stream's info. */
export function explainKvWriteFailure(nc: NatsConnection, bucket: string, cause: Error): Promise<Error> {
  return explainBucketFailure(bucket, cause, async () => (await jetstreamManager(nc, { checkAPI: false, timeout: 3_000 })).streams.info(kvStreamName(bucket)));
}
