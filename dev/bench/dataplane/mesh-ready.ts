import { request } from 'node:http';

/** One GET to 127.0.0.1:`port` with Host `host`: the status and the start of the body (0 on a transport error). */
export function probe(port: number, host: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body = `${body}${chunk.toString()}`.slice(0, 500)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (error) => resolve({ status: 0, body: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.end();
  });
}

/**
 * Polls each host through the caller's outbound listener until it answers 200: catalog
 * propagation, workload certificates and the gateways' routes are all in place then.
 */
export async function waitForMesh(options: { outboundPort: number; hosts: readonly string[]; timeoutMs: number }): Promise<void> {
  const deadline = performance.now() + options.timeoutMs;
  for (const host of options.hosts) {
    for (;;) {
      const answer = await probe(options.outboundPort, host);
      if (answer.status === 200) break;
      if (performance.now() > deadline) throw new Error(`${host} through the outbound listener: still ${answer.status} ${answer.body} after ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
