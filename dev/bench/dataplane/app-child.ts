/**
 * The benchmark's application: a minimal node:http server answering every request with the same
 * 64-byte body. It runs in its own process so its CPU is not taken from the load generator or the
 * proxies' measurement, and prints `APP PORT <port>` once listening. Stops on SIGTERM.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = Buffer.alloc(64, 'x');
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) };

const server = createServer((req, res) => {
  // The request body (none in the benchmark) is drained so the keep-alive connection stays usable.
  req.resume();
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
// Proxies keep pooled connections open between phases: no idle cut during a run, no per-socket request cap.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`APP PORT ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
