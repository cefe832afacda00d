export { startExampleHttpService, type ExampleHttpService } from './http-service.js';
export { ECHO_SERVICE, EchoClient, startExampleGrpcService, type EchoReply, type EchoRequest } from './grpc-service.js';
