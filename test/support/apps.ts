import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Server,
  ServerCredentials,
  status,
  type handleBidiStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { closeServer, listenLoopback } from './net.js';

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

/** What the app received, as it reports it in its JSON answer. */
export interface Seen {
  app: string;
  method: string;
  url: string;
  httpVersion: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
  bodySha256: string;
}

/** A running test app: its port, a hit counter, and a switch that holds `/hold` requests. */
export interface TestApp {
  readonly name: string;
  readonly port: number;
  hits: number;
  /** Requests waiting on /hold; release() answers them. */
  held: number;
  release(): void;
  /** Stops listening and cuts every connection (an app that dies). */
  kill(): Promise<void>;
}

/** Streams `bytes` bytes of a repeating pattern, honouring backpressure. */
async function streamBytes(res: Writable, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 'meridian-');
  for (let left = bytes; left > 0; left -= chunk.length) {
    const ok = res.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
    if (!ok) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}

function reply(app: TestApp, req: AnyRequest, res: AnyResponse, body: Buffer, waiters: (() => void)[]): void {
  const url = new URL(req.url ?? '/', 'http://app');
  const seen: Seen = {
    app: app.name,
    method: req.method ?? '',
    url: req.url ?? '',
    httpVersion: req.httpVersion,
    headers: req.headers,
    bodyBytes: body.length,
    bodySha256: createHash('sha256').update(body).digest('hex'),
  };
  const json = (code: number): void => {
    res.writeHead(code, { 'content-type': 'application/json', 'x-app': app.name });
    res.end(JSON.stringify(seen));
  };
  if (url.pathname === '/big') void streamBytes(res, Number(url.searchParams.get('bytes')));
  else if (url.pathname === '/echo') res.end(body);
  else if (url.pathname === '/status') json(Number(url.searchParams.get('code')));
  else if (url.pathname === '/slow') void sleep(Number(url.searchParams.get('ms'))).then(() => json(200));
  else if (url.pathname === '/hold') {
    app.held += 1;
    waiters.push(() => json(200));
  } else json(200);
}

/** An app on 127.0.0.1 speaking HTTP/1.1 (`http`) or h2c (`http2`), answering with what it saw. */
export async function startHttpApp(name: string, protocol: 'http' | 'http2'): Promise<TestApp> {
  const waiters: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const app: TestApp = {
    name,
    port: 0,
    hits: 0,
    held: 0,
    release: () => {
      for (const waiter of waiters.splice(0)) waiter();
    },
    kill: () => Promise.resolve(),
  };
  const handler = (req: AnyRequest, res: AnyResponse): void => {
    app.hits += 1;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => reply(app, req, res, Buffer.concat(chunks), waiters));
  };
  const server = protocol === 'http' ? http.createServer(handler) : http2.createServer(handler);
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listenLoopback(server);
  app.kill = async () => {
    const closed = closeServer(server);
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return Object.assign(app, { port });
}

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString()),
};

function method(path: string, requestStream: boolean, responseStream: boolean) {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  };
}

/** A JSON-coded echo service, so the tests need no .proto file. */
export const ECHO_SERVICE = {
  unary: method('/meridian.test.Echo/Unary', false, false),
  count: method('/meridian.test.Echo/Count', false, true),
  chat: method('/meridian.test.Echo/Chat', true, true),
} satisfies ServiceDefinition;

/** What the echo service answers: the message, the caller it was told about, and a sequence. */
export interface EchoReply {
  message: string;
  caller: string;
  n: number;
}

type Msg = { message?: string; count?: number; fail?: boolean };

const unary: handleUnaryCall<Msg, EchoReply> = (call, done) => {
  if (call.request.fail === true) done({ code: status.NOT_FOUND, details: 'no such echo' });
  else done(null, { message: call.request.message ?? '', caller: String(call.metadata.get('x-meridian-caller')[0]), n: 0 });
};

const count: handleServerStreamingCall<Msg, EchoReply> = (call) => {
  for (let n = 1; n <= (call.request.count ?? 0); n++) call.write({ message: call.request.message ?? '', caller: '', n });
  call.end();
};

const chat: handleBidiStreamingCall<Msg, EchoReply> = (call) => {
  let n = 0;
  call.on('data', (m: Msg) => call.write({ message: m.message ?? '', caller: '', n: ++n }));
  call.on('end', () => call.end());
};

const implementation: UntypedServiceImplementation = { unary, count, chat };

/** A grpc-js server with the echo service on 127.0.0.1 (plaintext h2c, as an app behind its agent). */
export async function startGrpcApp(): Promise<{ port: number; close: () => void }> {
  const server = new Server();
  server.addService(ECHO_SERVICE, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { port, close: () => server.forceShutdown() };
}
