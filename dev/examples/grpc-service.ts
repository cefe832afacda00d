import { Server, ServerCredentials, status, makeGenericClientConstructor, type ServiceDefinition, type ServerUnaryCall, type ServerWritableStream, type ServerDuplexStream, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { CALLER_HEADER } from '../../shared/mesh/index.js';
import { getThroughMesh } from './mesh-client.js';

/** Messages of the example service: JSON bodies in gRPC framing keep the demo free of generated code. */
export interface EchoRequest {
  message: string;
  count?: number;
}
export interface EchoReply {
  message: string;
  service: string;
  site: string;
  caller: string | null;
  index?: number;
}

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString()),
};

/** meridian.example.Echo: unary Echo, server-streaming Count, bidi Chat, and Fetch (calls the HTTP service named in `message` through the mesh). */
export const ECHO_SERVICE: ServiceDefinition = {
  Echo: { path: '/meridian.example.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
  Count: { path: '/meridian.example.Echo/Count', requestStream: false, responseStream: true, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
  Fetch: { path: '/meridian.example.Echo/Fetch', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
  Chat: { path: '/meridian.example.Echo/Chat', requestStream: true, responseStream: true, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
};

/** A client class for {@link ECHO_SERVICE}. */
export const EchoClient = makeGenericClientConstructor(ECHO_SERVICE, 'meridian.example.Echo');

const MAX_COUNT = 1000;

/** The demo's gRPC workload; replies carry the verified caller identity the mesh hands it. */
export async function startExampleGrpcService(options: { service: string; site: string; port?: number; outbound?: { host: string; port: number } }): Promise<{ port: number; close(): Promise<void> }> {
  const server = new Server();
  const reply = (message: string, caller: string | null, index?: number): EchoReply => ({ message, service: options.service, site: options.site, caller, ...(index === undefined ? {} : { index }) });
  const callerOf = (call: { metadata: { get(key: string): unknown[] } }): string | null => {
    const value = call.metadata.get(CALLER_HEADER)[0];
    return typeof value === 'string' ? value : null;
  };
  const implementation: UntypedServiceImplementation = {
    Echo: (call: ServerUnaryCall<EchoRequest, EchoReply>, done: sendUnaryData<EchoReply>) => done(null, reply(call.request.message, callerOf(call))),
    Count: (call: ServerWritableStream<EchoRequest, EchoReply>) => {
      const count = Math.min(Math.max(call.request.count ?? 1, 0), MAX_COUNT);
      for (let index = 0; index < count; index++) call.write(reply(call.request.message, callerOf(call), index));
      call.end();
    },
    Fetch: (call: ServerUnaryCall<EchoRequest, EchoReply>, done: sendUnaryData<EchoReply>) => {
      if (options.outbound === undefined) return done({ code: status.FAILED_PRECONDITION, details: 'no outbound listener configured' });
      getThroughMesh(options.outbound, call.request.message).then(
        (body) => done(null, reply(body, callerOf(call))),
        (error: Error) => done({ code: status.UNAVAILABLE, details: error.message }),
      );
    },
    Chat: (call: ServerDuplexStream<EchoRequest, EchoReply>) => {
      call.on('data', (request: EchoRequest) => call.write(reply(request.message, callerOf(call))));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  };
  server.addService(ECHO_SERVICE, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}
