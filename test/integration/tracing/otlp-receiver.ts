import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { fileScope } from '../../support/harness.js';
import { decodeJsonExport, decodeProtobufExport, type ReceivedSpan } from './otlp-decode.js';

export { SPAN_KIND, STATUS_CODE, type ReceivedSpan } from './otlp-decode.js';

/*
 * An OTLP/HTTP trace receiver, standing in for the OpenTelemetry Collector (none is installable
 * here): POST /v1/traces with an ExportTraceServiceRequest, in protobuf (`application/x-protobuf`,
 * decoded with the official generated definitions) or JSON (`application/json`, checked strictly
 * against the OTLP/JSON mapping); see otlp-decode.ts.
 */

/** A running receiver: every decoded span, and the requests as they came (path and content type). */
export interface OtlpReceiver {
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly requests: { path: string; method: string; contentType: string }[];
}

/** Cap of one export body here: the agent's batches are far smaller. */
const MAX_BODY = 8 * 1024 * 1024;

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

/**
 * Starts a receiver on 127.0.0.1, stopped at the end of the file. It answers 200 with an empty
 * ExportTraceServiceResponse in the request's encoding, and 415 to any other content type (as
 * the Collector does); a body off the definitions fails the test where it is decoded.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      requests.push({ path: req.url ?? '', method: req.method ?? '', contentType });
      const body = Buffer.concat(chunks);
      if (contentType === PROTOBUF) spans.push(...decodeProtobufExport(body));
      else if (contentType === JSON_TYPE) spans.push(...decodeJsonExport(body.toString('utf8')));
      else return void res.writeHead(415).end();
      // The empty ExportTraceServiceResponse: no bytes in protobuf, {} in JSON.
      res.writeHead(200, { 'content-type': contentType }).end(contentType === PROTOBUF ? '' : '{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fileScope.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, requests };
}

/** A collector that accepts connections and never answers (the worst unreachable case: no quick refusal); returns its traces URL. */
export async function startSilentCollector(): Promise<{ url: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createTcpServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fileScope.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/v1/traces`, connections: () => count };
}
