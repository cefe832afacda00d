import { request } from 'node:http';
import { describeError } from './reasons.js';
import type { Probe, ProbeOutcome } from './types.js';

/** Where an HTTP probe goes. */
export interface HttpTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

/**
 * GET `path` on the instance; only 2xx passes. Redirects are not followed and count as
 * failures (like Consul, unlike Kubernetes): a health endpoint that redirects usually means
 * the check points at the wrong path. Each probe uses its own connection (`agent: false`)
 * that is destroyed as soon as the status line arrives, so probes never leave sockets behind
 * and the body of a chatty endpoint is never read.
 */
export function httpProbe(target: HttpTarget): Probe {
  return {
    run: (signal) => httpGet(target, signal),
    close: () => undefined,
  };
}

function httpGet(target: HttpTarget, signal: AbortSignal): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const req = request({
      host: target.host,
      port: target.port,
      path: target.path,
      method: 'GET',
      agent: false,
      signal,
      headers: { 'user-agent': 'meridian-health-check/1', accept: '*/*' },
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      settle({ ok: status >= 200 && status < 300, reason: `HTTP ${status} from ${target.path}` });
      // Later errors (the reset we cause by destroying) are expected and meaningless.
      res.on('error', () => undefined);
      res.destroy();
    });
    // After an abort, the runner has already reported the timeout; this only keeps the
    // promise settled and the error handled.
    req.on('error', (err) => settle({ ok: false, reason: describeError(err) }));
    req.end();
  });
}
