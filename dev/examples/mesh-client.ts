import { request } from 'node:http';

/** Where a workload reaches the mesh: its agent's outbound HTTP listener. */
export interface Outbound {
  readonly host: string;
  readonly port: number;
}

/**
 * `GET http://<service>.mesh/` through the local agent; resolves with the body of a 200. Anything
 * else is a failure that says why: a Meridian error body (`{ code, message }`) is quoted as such,
 * so a refused or failed call never passes for an answer.
 */
export function getThroughMesh(outbound: Outbound, service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: outbound.host, port: outbound.port, path: '/', headers: { host: `${service}.mesh` }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${service}.mesh answered ${res.statusCode ?? 0} ${meshError(body)}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${service}.mesh did not answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** `MERIDIAN_ERR_…: message` of a mesh error body, or the start of whatever else was answered. */
function meshError(body: string): string {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string') return `${parsed.code}: ${String(parsed.message)}`;
  } catch {
    // Not JSON: quote it.
  }
  return body.slice(0, 200);
}
