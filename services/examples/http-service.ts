import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CALLER_HEADER } from '../../shared/mesh/index.js';

/** A running example HTTP service. */
export interface ExampleHttpService {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The demo's HTTP workload. `GET /` answers who it is and who called it (the verified caller
 * identity the mesh hands it). `GET /call/<service>` calls another service through the local
 * agent's outbound listener (`http://<service>.mesh`), so a chain of calls crosses sites.
 */
export async function startExampleHttpService(options: { service: string; site: string; port?: number; outbound?: { host: string; port: number } }): Promise<ExampleHttpService> {
  const server: Server = createServer((req, res) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const call = /^\/call\/([a-z0-9-]+)$/.exec(req.url ?? '');
    if (call?.[1] !== undefined && options.outbound !== undefined) {
      void callThroughMesh(options.outbound, call[1]).then(
        (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ service: options.service, site: options.site, upstream: body })),
        (error: Error) => res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: error.message })),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(whoami(options, req)));
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function whoami(options: { service: string; site: string }, req: IncomingMessage): Record<string, unknown> {
  return { service: options.service, site: options.site, caller: req.headers[CALLER_HEADER] ?? null, path: req.url };
}

function callThroughMesh(outbound: { host: string; port: number }, service: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ host: outbound.host, port: outbound.port, path: '/', headers: { host: `${service}.mesh` }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`${service}.mesh answered ${res.statusCode}: ${body.slice(0, 200)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${service}.mesh timed out`)));
    req.on('error', reject);
    req.end();
  });
}
