import { connect, createServer, type Server, type Socket } from 'node:net';
import { MeridianError } from '../../../shared/errors/index.js';

/** Decides whether gateway traffic from `source` (undefined: unidentified) may reach `target`. */
export type LinkPolicy = (source: string | undefined, target: string) => boolean;

interface Link {
  source: string | undefined;
  client: Socket;
  upstream: Socket;
}

/** A soliciting server's first line is `CONNECT {...}`; more than this and it is not NATS. */
const MAX_CONNECT_LINE = 64 * 1024;

/**
 * A TCP relay in front of one site's gateway port. Every gateway link into the site passes
 * through it, so a partition is a real cut of live connections while the servers keep running.
 * The relay learns which site dialled in from the `gateway` field of the first CONNECT line.
 */
export class CuttableLink {
  /** The site whose gateway port this relay fronts. */
  readonly target: string;
  /** Gateway port of the target's server; may change if the server is re-launched elsewhere. */
  upstreamPort = 0;
  readonly #policy: LinkPolicy;
  readonly #links = new Set<Link>();
  readonly #server: Server;

  constructor(target: string, policy: LinkPolicy) {
    this.target = target;
    this.#policy = policy;
    this.#server = createServer({ noDelay: true }, (client) => this.#accept(client));
    // Listener errors after listen() (e.g. EMFILE) must not crash the process; links just fail.
    this.#server.on('error', () => undefined);
    // Like the server processes, relays must not keep a script alive that forgot stop().
    this.#server.unref();
  }

  /** Listens on an OS-assigned 127.0.0.1 port and returns it. */
  async listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve(this.port);
      });
    });
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Destroys every live link the predicate selects; returns how many. */
  cut(select: (source: string | undefined, target: string) => boolean): number {
    let count = 0;
    for (const link of this.#links) {
      if (!select(link.source, this.target)) continue;
      this.#drop(link);
      count++;
    }
    return count;
  }

  /** Stops listening and destroys every link. */
  async close(): Promise<void> {
    this.cut(() => true);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const upstream = connect({ host: '127.0.0.1', port: this.upstreamPort, noDelay: true });
    const link: Link = { source: undefined, client, upstream };
    this.#links.add(link);
    for (const socket of [client, upstream]) {
      socket.unref();
      socket.on('error', () => this.#drop(link));
      socket.on('close', () => this.#drop(link));
    }
    // The server speaks first (INFO), so that direction flows at once.
    upstream.pipe(client);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n');
      if (end < 0) {
        if (head.length > MAX_CONNECT_LINE) this.#drop(link);
        return;
      }
      client.off('data', onData);
      link.source = gatewayName(head.subarray(0, end).toString('utf8'));
      if (!this.#policy(link.source, this.target)) {
        this.#drop(link);
        return;
      }
      upstream.write(head);
      client.pipe(upstream);
    };
    client.on('data', onData);
  }

  #drop(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.client.destroy();
    link.upstream.destroy();
  }
}

/** The gateway name in `CONNECT {"gateway":"<name>",...}`, if the line is one. */
export function gatewayName(line: string): string | undefined {
  const match = /^CONNECT\s+(\{.*\})\s*$/i.exec(line);
  if (!match?.[1]) return undefined;
  try {
    const parsed = JSON.parse(match[1]) as { gateway?: unknown };
    return typeof parsed.gateway === 'string' ? parsed.gateway : undefined;
  } catch {
    return undefined;
  }
}

/** Error for a relay that could not listen. */
export function relayError(site: string, cause: unknown): MeridianError {
  return new MeridianError('MERIDIAN_ERR_PROCESS_START', `cannot open the gateway relay for site ${site}`, { cause });
}
