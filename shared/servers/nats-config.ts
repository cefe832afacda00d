import { join } from 'node:path';
import type { NatsClusterOptions, NatsGatewayOptions, NatsTlsOptions } from './types.js';

/** Everything {@link renderNatsConfig} needs; ports of -1 let the server pick. */
export interface NatsConfigInput {
  name: string;
  dir: string;
  port: number;
  monitorPort: number;
  jetstream: boolean;
  tls?: NatsTlsOptions | undefined;
  cluster?: NatsClusterOptions | undefined;
  gateway?: NatsGatewayOptions | undefined;
  extraConfig?: string | undefined;
}

/** JSON string syntax is valid nats-server config syntax and escapes paths safely. */
const q = (value: string): string => JSON.stringify(value);

/**
 * The nats-server config text. Everything listens on 127.0.0.1 only; the ports file lands in
 * `dir` so the launcher learns ports the server picked itself.
 */
export function renderNatsConfig(input: NatsConfigInput): string {
  const lines = [
    `server_name: ${q(input.name)}`,
    `listen: ${q(`127.0.0.1:${input.port}`)}`,
    `http: ${q(`127.0.0.1:${input.monitorPort}`)}`,
    `ports_file_dir: ${q(input.dir)}`,
  ];
  if (input.jetstream) lines.push(`jetstream { store_dir: ${q(join(input.dir, 'jetstream'))} }`);
  if (input.tls) lines.push(renderTls(input.tls));
  if (input.cluster) lines.push(renderCluster(input.cluster));
  if (input.gateway) lines.push(renderGateway(input.gateway));
  if (input.extraConfig !== undefined && input.extraConfig !== '') lines.push(input.extraConfig);
  return `${lines.join('\n')}\n`;
}

/** The nats-server `tls {}` block for client connections. */
export function renderTls(tls: NatsTlsOptions): string {
  const body = [`  cert_file: ${q(tls.certFile)}`, `  key_file: ${q(tls.keyFile)}`];
  if (tls.caFile !== undefined) body.push(`  ca_file: ${q(tls.caFile)}`);
  body.push(`  verify: ${tls.verify === true ? 'true' : 'false'}`);
  body.push(`  timeout: ${tls.timeoutSeconds ?? 2}`);
  return `tls {\n${body.join('\n')}\n}`;
}

function renderCluster(cluster: NatsClusterOptions): string {
  const self = `nats://127.0.0.1:${cluster.port}`;
  const routes = (cluster.routes ?? [self]).map(q).join(', ');
  return [
    'cluster {',
    `  name: ${q(cluster.name)}`,
    `  listen: ${q(`127.0.0.1:${cluster.port}`)}`,
    `  routes: [${routes}]`,
    '}',
  ].join('\n');
}

function renderGateway(gateway: NatsGatewayOptions): string {
  const remotes = gateway.gateways.map((g) => `    { name: ${q(g.name)}, urls: [${g.urls.map(q).join(', ')}] }`);
  const body = [`  name: ${q(gateway.name)}`, `  listen: ${q(`127.0.0.1:${gateway.port}`)}`];
  if (gateway.advertise !== undefined) body.push(`  advertise: ${q(gateway.advertise)}`);
  body.push(`  gateways: [\n${remotes.join('\n')}\n  ]`);
  return `gateway {\n${body.join('\n')}\n}`;
}
