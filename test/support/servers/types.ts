/**
 * Contracts for launching real local `nats-server` and `redis-server` processes. Used by the
 * test harness and by the local demo; nothing here talks to a container engine.
 */

/** What every launched server exposes. */
export interface ServerHandle {
  /** PID of the current process; changes on restart. */
  readonly pid: number;
  /** Private temp dir (config, data, ports file); removed by stop(). */
  readonly dir: string;
  /** Graceful stop (SIGTERM, then SIGKILL after a bound), waits for exit, removes `dir`. */
  stop(): Promise<void>;
}

export type { NatsTlsOptions, NatsClusterOptions, NatsGatewayRemote, NatsGatewayOptions } from '../../../services/site/nats-conf.js';
import type { NatsTlsOptions, NatsClusterOptions, NatsGatewayOptions } from '../../../services/site/nats-conf.js';

/** Options of {@link startNatsServer}; every field is optional. */
export interface NatsServerOptions {
  /** `server_name`; default `meridian-<random>`. Must be unique within a supercluster. */
  name?: string;
  /** Fixed client port; default: picked by the server (`-1`), then kept across restarts. */
  port?: number;
  /** Fixed monitoring port; default: picked by the server, then kept across restarts. */
  monitorPort?: number;
  /** JetStream with its store inside the temp dir. Default true. */
  jetstream?: boolean;
  tls?: NatsTlsOptions;
  cluster?: NatsClusterOptions;
  gateway?: NatsGatewayOptions;
  /** Raw config text appended last (accounts, users, permissions...). */
  extraConfig?: string;
  /** Path to the binary; default {@link findBinary}('nats-server'). */
  binary?: string;
  /** Bound on start-up (ports file + readiness). Default 10 000 ms. */
  startTimeoutMs?: number;
  /** Bound between SIGTERM and SIGKILL on stop. Default 5 000 ms. */
  stopTimeoutMs?: number;
}

/** A running (or stopped-but-restartable) nats-server. */
export interface NatsServerHandle extends ServerHandle {
  readonly name: string;
  /** `nats://127.0.0.1:<port>`; stable across restarts. */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` of the monitoring endpoint; stable across restarts. */
  readonly monitorUrl: string;
  readonly configPath: string;
  /** True while a process is running. */
  readonly running: boolean;
  /** Stops (if running) and starts again on the same ports with the same JetStream store. */
  restart(): Promise<void>;
  /** SIGKILL, keeping the store: a crash. Call restart() to bring it back. */
  kill(): Promise<void>;
  /** Graceful stop that keeps the temp dir and store, for a later restart(). */
  terminate(): Promise<void>;
  /** Last lines the process wrote to stdout/stderr, for diagnosis. */
  output(): string;
}

/** Options of {@link startSupercluster}. */
export interface SuperclusterOptions {
  /** One site (= NATS cluster, one server) per entry; names match /^[A-Za-z0-9_-]+$/. */
  sites: readonly string[];
  /** Raw config appended to every site's server, or per site. */
  extraConfig?: string | ((site: string) => string);
  /** TLS for each site's client connections (per site: each has its own server certificate). */
  tls?: (site: string) => NatsTlsOptions;
  /** Path to the nats-server binary. */
  binary?: string;
  /** Bound on start-up until gateways are linked and a JetStream meta leader exists. Default 45 000 ms. */
  startTimeoutMs?: number;
  /** Bound on heal() / restartSite() until links are back. Default 30 000 ms. */
  healTimeoutMs?: number;
}

/** One site of a supercluster. */
export interface SiteHandle {
  readonly site: string;
  /** NATS cluster (and gateway) name; equals the site name. */
  readonly cluster: string;
  /** Client URL of the site's server. */
  readonly url: string;
  readonly monitorUrl: string;
  /** The site's server; prefer the supercluster methods to stop or restart it. */
  readonly server: NatsServerHandle;
}

/** A running supercluster whose gateway links pass through harness-owned TCP relays. */
export interface SuperclusterHandle {
  readonly sites: readonly SiteHandle[];
  /** The named site; throws MERIDIAN_ERR_BAD_ARGUMENT for an unknown name. */
  site(name: string): SiteHandle;
  /** Cuts every gateway link to and from `site` and refuses new ones, without touching servers. */
  partition(site: string): Promise<void>;
  /** Lets `site` link again; resolves once its gateway links and a meta leader are back. */
  heal(site: string): Promise<void>;
  /** Graceful stop of one site's server, keeping its store. */
  stopSite(site: string): Promise<void>;
  /** Starts a stopped site again on the same ports and store; resolves once linked. */
  restartSite(site: string): Promise<void>;
  /** Resolves once every running, unpartitioned site is fully linked and sees a meta leader. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Stops every server, closes relays, removes temp dirs. */
  stop(): Promise<void>;
}

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  binary?: string;
  /** A fixed port (e.g. to start Redis again where its clients look); default a free one. */
  port?: number;
  /** Serve TLS 1.3 only on the port (no client certificates): the server's PEM certificate chain and key. */
  tls?: { certFile: string; keyFile: string };
  /** `requirepass`: clients must AUTH with it. */
  password?: string;
  /** Bound on start-up until PING answers PONG. Default 10 000 ms. */
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

/** A running redis-server. */
export interface RedisServerHandle extends ServerHandle {
  /** `redis://127.0.0.1:<port>`, or `rediss://` with TLS */
  readonly url: string;
  readonly port: number;
  output(): string;
}
