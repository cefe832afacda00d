import { Client, credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { describeError, hostPort, timeoutReason } from './reasons.js';
import type { Probe, ProbeOutcome } from './types.js';
import { MeridianError } from '../../shared/errors/index.js';

/** Where a gRPC probe goes and which service's health it asks for. */
export interface GrpcTarget {
  readonly host: string;
  readonly port: number;
  /** `''` asks for the server's overall health. */
  readonly service: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

// The official package's definition: protobuf encoding and the method path come from the
// grpc-node project itself rather than from a hand-rolled encoder.
const CHECK_METHOD = checkMethod();

function checkMethod(): NonNullable<(typeof healthService)[string]> {
  const method = healthService['Check'];
  if (method === undefined) throw new MeridianError('MERIDIAN_ERR_INTERNAL', 'grpc-health-check no longer exports grpc.health.v1.Health/Check');
  return method;
}

/** Reconnect backoff bounds (ms): a server that comes back is seen within about one interval. */
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;

/**
 * Calls grpc.health.v1.Health/Check with a deadline of `timeoutMs`; only SERVING passes.
 * One channel serves every probe of the checker (HTTP/2 is multiplexed, and a new channel per
 * probe would redo the handshake every interval); `close` shuts it down. Its reconnect backoff
 * is capped at the interval so a restarted server is not reported critical for minutes.
 */
export function grpcProbe(target: GrpcTarget): Probe {
  const backoff = Math.min(Math.max(target.intervalMs, MIN_BACKOFF_MS), MAX_BACKOFF_MS);
  const client = new Client(hostPort(target.host, target.port), credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': Math.min(1000, backoff),
    'grpc.max_reconnect_backoff_ms': backoff,
    // A probe is one attempt: a transparent retry could hide a flapping server.
    'grpc.enable_retries': 0,
    'grpc.service_config_disable_resolution': 1,
  });
  return {
    run: (signal) => healthCheck(client, target, signal),
    close: () => client.close(),
  };
}

function healthCheck(client: Client, target: GrpcTarget, signal: AbortSignal): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const call = client.makeUnaryRequest(
      CHECK_METHOD.path,
      CHECK_METHOD.requestSerialize,
      CHECK_METHOD.responseDeserialize,
      { service: target.service },
      new Metadata(),
      { deadline: Date.now() + target.timeoutMs },
      (err, response) => {
        signal.removeEventListener('abort', onAbort);
        resolve(err ? failure(err, target) : servingOutcome(response, target.service));
      },
    );
    const onAbort = (): void => call.cancel();
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

function servingOutcome(response: object | undefined, service: string): ProbeOutcome {
  // proto-loader decodes enums as their names; a number means a status newer than our proto.
  const raw = (response as { status?: unknown } | undefined)?.status;
  const status = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : 'UNKNOWN';
  return { ok: status === 'SERVING', reason: `health status ${status} for ${serviceLabel(service)}` };
}

function failure(err: ServiceError | Error, target: GrpcTarget): ProbeOutcome {
  const code = (err as Partial<ServiceError>).code;
  if (code === undefined) return { ok: false, reason: describeError(err) };
  const name = GrpcStatus[code] ?? `status ${code}`;
  // The health protocol answers an unknown service name with NOT_FOUND; Watch calls that state
  // SERVICE_UNKNOWN, the name operators know from other tools.
  if (code === GrpcStatus.NOT_FOUND) return { ok: false, reason: `health status SERVICE_UNKNOWN for ${serviceLabel(target.service)} (gRPC NOT_FOUND)` };
  if (code === GrpcStatus.DEADLINE_EXCEEDED) return { ok: false, reason: timeoutReason(target.timeoutMs) };
  if (code === GrpcStatus.UNIMPLEMENTED) return { ok: false, reason: 'gRPC UNIMPLEMENTED: the server does not serve grpc.health.v1.Health' };
  // grpc-js appends an empty "Resolution note: " when the address needed no resolving.
  const details = ((err as Partial<ServiceError>).details ?? '').replace(/\.?\s*Resolution note:\s*$/, '');
  return { ok: false, reason: `gRPC ${name}${details ? `: ${details}` : ''}` };
}

function serviceLabel(service: string): string {
  return service === '' ? 'the server (service "")' : `service ${JSON.stringify(service)}`;
}
