import type { IncomingMessage } from 'node:http';
import { MeridianError } from '../../../shared/errors/index.js';

/*
 * How a destination agent tells the calling agent "your request never reached the app, and this
 * instance cannot serve it": the app refused the connection (crashed, not listening). The caller
 * then treats it as a failed connect: it ejects the instance at once and retries elsewhere, the
 * body replayed, so a dead app behind a live agent costs no failed request when another usable
 * instance exists. Each signal lives inside the nested workload TLS session, so only the verified
 * destination agent can send it (a gateway on the way sees ciphertext), and none of them can
 * come from the app itself.
 */

/**
 * HTTP/2: RST_STREAM with this private error code (RFC 9113 §7 lets peers define codes; unknown
 * ones read as INTERNAL_ERROR). Not REFUSED_STREAM: that one also means "busy" or "draining",
 * where the instance is fine. "MRA" (Meridian, app refused) in ASCII.
 */
export const APP_REFUSED_H2_CODE = 0x4d5241;

/**
 * HTTP/1.1: status 502 with this option in the response's `Connection` header. Connection
 * options are hop-by-hop (RFC 9110 §7.6.1): the destination agent never forwards an app's
 * `Connection` header, so an app can't produce this one.
 */
export const APP_REFUSED_STATUS = 502;
export const APP_REFUSED_OPTION = 'meridian-app-refused';

/** The `Connection` header value of an HTTP/1.1 app refusal. */
export const APP_REFUSED_CONNECTION = `close, ${APP_REFUSED_OPTION}`;

/** Whether an HTTP/1.1 response from a destination agent is its app refusal (cheap for any other status). */
export function isAppRefusal(response: IncomingMessage): boolean {
  if (response.statusCode !== APP_REFUSED_STATUS) return false;
  const connection = response.headers.connection;
  return connection !== undefined && connection.toLowerCase().split(',').some((option) => option.trim() === APP_REFUSED_OPTION);
}

/**
 * Raw TCP (ALPN 'meridian-tcp'): the destination agent's first byte, once it has decided.
 * ACCEPTED: the app's connection is up, its bytes follow. APP_REFUSED: the app refused (retry
 * elsewhere). FORBIDDEN: this caller may not call the service (final). Nothing else is sent
 * before closing, so a caller never mistakes a refusal for the app's silence.
 */
export const TCP_ACCEPTED = 0;
export const TCP_APP_REFUSED = 1;
export const TCP_FORBIDDEN = 2;

/** A destination agent's answer that its app refused the connection: the request was not processed. */
export class AppRefused extends MeridianError {
  constructor(message: string) {
    super('MERIDIAN_ERR_UPSTREAM_CONNECT', message);
    this.name = 'AppRefused';
  }
}

/** forwardH1Response's `refusal` hook: an app refusal is not relayed but ends the attempt with this error. */
export function appRefusal(response: IncomingMessage): AppRefused | undefined {
  return isAppRefusal(response) ? new AppRefused('the destination agent could not reach its app') : undefined;
}

/** The destination agent refused this caller (policy or identity): final, unlike a connect failure. */
export class CallerRefused extends MeridianError {
  constructor(message: string) {
    super('MERIDIAN_ERR_FORBIDDEN', message);
    this.name = 'CallerRefused';
  }
}
