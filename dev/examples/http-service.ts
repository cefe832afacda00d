import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentials } from '@grpc/grpc-js';
import { CALLER_HEADER } from '../../shared/mesh/index.js';
import { EchoClient } from './grpc-service.js';
import { getThroughMesh, type Outbound } from './mesh-client.js';

/** A running example HTTP service. */
export interface ExampleHttpService {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The demo's HTTP workload. `GET /` answers who it is and who called it (the verified caller
 * identity the mesh hands it). `GET /call/<service>` calls another service through the local
 * agent's outbound listener (`http://<service>.mesh`), and `GET /grpc/<service>` calls the gRPC
 * example's Echo the same way, so a chain of calls crosses sites and protocols.
 */
export async function startExampleHttpService(options: { service: string; site: string; port?: number; outbound?: { host: string; port: number } }): Promise<ExampleHttpService> {
  const server: Server = createServer((req, res) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const call = /^\/(call|grpc)\/([a-z0-9-]+)$/.exec(req.url ?? '');
    if (call?.[2] !== undefined && options.outbound !== undefined) {
      const upstream = call[1] === 'grpc' ? echoThroughMesh(options.outbound, call[2], options.service) : callThroughMesh(options.outbound, call[2]);
      void upstream.then(
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

/** Calls the gRPC example's Echo of `service` through the local agent (`:authority <service>.mesh`). */
async function echoThroughMesh(outbound: { host: string; port: number }, service: string, caller: string): Promise<unknown> {
  const client = new EchoClient(`${outbound.host}:${outbound.port}`, credentials.createInsecure(), { 'grpc.default_authority': `${service}.mesh` });
  try {
    return await new Promise((resolve, reject) =>
      client.makeUnaryRequest('/meridian.example.Echo/Echo', (v: unknown) => Buffer.from(JSON.stringify(v)), (b: Buffer) => JSON.parse(b.toString()) as unknown, { message: `hello from ${caller}` }, { deadline: Date.now() + 10_000 }, (error, reply) =>
        error ? reject(error) : resolve(reply),
      ),
    );
  } finally {
    client.close();
  }
}

/** Calls `service` over HTTP through the mesh; its answer must be JSON (the examples answer JSON). */
async function callThroughMesh(outbound: Outbound, service: string): Promise<unknown> {
  return JSON.parse(await getThroughMesh(outbound, service)) as unknown;
}
