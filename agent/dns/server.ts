import dgram from 'node:dgram';
import { once } from 'node:events';
import { createServer, isIPv6, type Server } from 'node:net';
import { MeridianError } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { QueryRate } from './rate.js';
import { serveTcpConnection } from './tcp.js';
import { respond, type Transport } from './wire.js';
import type { DnsZoneSource } from './zone.js';

/** Options of {@link startDnsServer}. */
export interface DnsServerOptions {
  readonly host: string;
  /** UDP and TCP both; 0 picks a port free for both. */
  readonly port: number;
  readonly zone: DnsZoneSource;
  /** Queries answered per second over UDP and TCP together; past it UDP queries are dropped and TCP connections closed. */
  readonly maxQueriesPerSecond: number;
  readonly maxTcpConnections: number;
  /** TCP: idle connections close after this, and a message must arrive whole within it. */
  readonly tcpTimeoutMs: number;
  readonly log: Logger;
}

/** Counters of a running DNS server. */
export interface DnsServerStats {
  readonly answered: number;
  /** Queries dropped by the rate limit. */
  readonly limited: number;
}

/** A running DNS server (UDP and TCP on one port). */
export interface DnsServer {
  readonly host: string;
  readonly port: number;
  stats(): DnsServerStats;
  close(): Promise<void>;
}

/** Attempts at a port free for both UDP and TCP when the port is 0. */
const FREE_PORT_ATTEMPTS = 5;
/** The rate limit is logged at most this often. */
const LIMIT_LOG_INTERVAL_MS = 60_000;

function assertOptions(options: DnsServerOptions): void {
  for (const field of ['maxQueriesPerSecond', 'maxTcpConnections', 'tcpTimeoutMs'] as const) {
    const value = options[field];
    if (!Number.isInteger(value) || value < 1) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startDnsServer: ${field} must be a positive integer (got ${String(value)})`);
    }
  }
  if (!Number.isInteger(options.zone.ttl) || options.zone.ttl < 0) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startDnsServer: ttl must be a whole number of seconds (got ${String(options.zone.ttl)})`);
  }
}

/**
 * Starts the agent's DNS server: `.mesh` and `.consul` names answered from the catalog view,
 * over UDP (answers past 512 bytes, or the client's EDNS0 size, truncated with TC) and TCP.
 */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  assertOptions(options);
  const counters = { answered: 0, limited: 0, loggedAt: -Infinity };
  const rate = new QueryRate(options.maxQueriesPerSecond);
  const answer = (message: Buffer, transport: Transport): Buffer | undefined | 'limited' => {
    if (!rate.take()) {
      counters.limited++;
      logLimit(options, counters);
      return 'limited';
    }
    const reply = respond(options.zone, message, transport);
    if (reply !== undefined) counters.answered++;
    return reply;
  };
  const tcp = createServer((socket) => serveTcpConnection(socket, { answer: (message) => answer(message, 'tcp'), timeoutMs: options.tcpTimeoutMs }));
  tcp.maxConnections = options.maxTcpConnections;
  const udp = await bindBoth(tcp, options);
  tcp.on('error', (error) => options.log.error('DNS TCP listener failed', { error: error.message }));
  udp.on('message', (message, peer) => {
    const reply = answer(message, 'udp');
    // A send to a vanished or unreachable client is its own loss; nothing to retry.
    if (reply instanceof Buffer) udp.send(reply, peer.port, peer.address, () => undefined);
  });
  const port = udp.address().port;
  return {
    host: options.host,
    port,
    stats: () => ({ answered: counters.answered, limited: counters.limited }),
    async close() {
      udp.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

function logLimit(options: DnsServerOptions, counters: { limited: number; loggedAt: number }): void {
  const now = performance.now();
  if (now - counters.loggedAt < LIMIT_LOG_INTERVAL_MS) return;
  counters.loggedAt = now;
  options.log.warn('DNS queries over the rate limit are dropped', { maxQueriesPerSecond: options.maxQueriesPerSecond, droppedSoFar: counters.limited });
}

/** Listens on TCP then binds UDP on the same port; with port 0, tries again when UDP's half is taken. */
async function bindBoth(tcp: Server, options: DnsServerOptions): Promise<dgram.Socket> {
  for (let attempt = 1; ; attempt++) {
    tcp.listen(options.port, options.host);
    await once(tcp, 'listening');
    const address = tcp.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    try {
      return await bindUdp(options.host, port, options.log);
    } catch (error) {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      if (options.port !== 0 || attempt >= FREE_PORT_ATTEMPTS) throw error;
    }
  }
}

async function bindUdp(host: string, port: number, log: Logger): Promise<dgram.Socket> {
  const udp = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
  const failed = once(udp, 'error');
  udp.bind(port, host);
  const outcome = await Promise.race([once(udp, 'listening').then(() => undefined), failed.then(([error]) => error as Error)]);
  if (outcome !== undefined) {
    udp.close();
    throw outcome;
  }
  // Past the bind, errors are of single datagrams (ICMP unreachable and the like): the socket serves on.
  udp.on('error', (error) => log.warn('DNS UDP socket error', { error: error.message }));
  return udp;
}
