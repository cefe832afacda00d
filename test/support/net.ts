import { createServer, type AddressInfo, type Server } from 'node:net';

/** Listens on 127.0.0.1 (on `port`, default an OS-assigned one) and returns the port. Any net, tls, http or http2 server. */
export async function listenLoopback(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a server; resolves once it stopped listening. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A loopback port nobody listens on (it was free a moment ago). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  const port = await listenLoopback(server);
  await closeServer(server);
  return port;
}
