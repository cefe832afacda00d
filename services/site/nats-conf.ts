/**
 * nats-server configuration blocks a site's NATS needs: client TLS with trust-domain
 * certificates, the `cluster {}` of its servers and the `gateway {}` that links it to the other
 * sites' clusters (a supercluster). Rendered by `meridian site nats-config` and by the test
 * launchers, so both speak the same configuration.
 */

/** JSON string syntax is valid nats-server config syntax and escapes paths safely. */
const q = (value: string): string => JSON.stringify(value);

/** TLS for client connections (the `tls {}` block of nats-server). */
export interface NatsTlsOptions {
  certFile: string;
  keyFile: string;
  /** CA used to verify client certificates (and offered to clients). */
  caFile?: string;
  /** Require and verify client certificates (mTLS). Default false. */
  verify?: boolean;
  /** TLS handshake timeout in seconds. nats-server defaults to 0.5 s, too short on a busy box. */
  timeoutSeconds?: number;
}

/** The `cluster {}` block. */
export interface NatsClusterOptions {
  /** Cluster name; for a supercluster, the site name. */
  name: string;
  /** Route listen port. */
  port: number;
  /** Route listen host; default 127.0.0.1. */
  host?: string;
  /** Route URLs; defaults to a route to this server itself (enough for a one-node cluster). */
  routes?: readonly string[];
}

/** One remote gateway (another cluster of the supercluster). */
export interface NatsGatewayRemote {
  name: string;
  urls: readonly string[];
}

/** The `gateway {}` block. */
export interface NatsGatewayOptions {
  /** Gateway name; must equal the cluster name. */
  name: string;
  /** Gateway listen port. */
  port: number;
  /** Gateway listen host; default 127.0.0.1. */
  host?: string;
  /** `host:port` other clusters are told to dial instead of `port` (e.g. a relay). */
  advertise?: string;
  gateways: readonly NatsGatewayRemote[];
}

/** The nats-server `tls {}` block for client connections. */
export function renderTls(tls: NatsTlsOptions): string {
  const body = [`  cert_file: ${q(tls.certFile)}`, `  key_file: ${q(tls.keyFile)}`];
  if (tls.caFile !== undefined) body.push(`  ca_file: ${q(tls.caFile)}`);
  body.push(`  verify: ${tls.verify === true ? 'true' : 'false'}`);
  body.push(`  timeout: ${tls.timeoutSeconds ?? 2}`);
  return `tls {\n${body.join('\n')}\n}`;
}

export function renderCluster(cluster: NatsClusterOptions): string {
  const self = `nats://127.0.0.1:${cluster.port}`;
  const routes = (cluster.routes ?? [self]).map(q).join(', ');
  return [
    'cluster {',
    `  name: ${q(cluster.name)}`,
    `  listen: ${q(`${cluster.host ?? '127.0.0.1'}:${cluster.port}`)}`,
    `  routes: [${routes}]`,
    '}',
  ].join('\n');
}

export function renderGateway(gateway: NatsGatewayOptions): string {
  const remotes = gateway.gateways.map((g) => `    { name: ${q(g.name)}, urls: [${g.urls.map(q).join(', ')}] }`);
  const body = [`  name: ${q(gateway.name)}`, `  listen: ${q(`${gateway.host ?? '127.0.0.1'}:${gateway.port}`)}`];
  if (gateway.advertise !== undefined) body.push(`  advertise: ${q(gateway.advertise)}`);
  body.push(`  gateways: [\n${remotes.join('\n')}\n  ]`);
  return `gateway {\n${body.join('\n')}\n}`;
}
