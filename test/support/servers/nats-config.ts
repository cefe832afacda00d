import { join } from 'node:path';
import { renderCluster, renderGateway, renderTls, type NatsClusterOptions, type NatsGatewayOptions, type NatsTlsOptions } from '../../../services/site/nats-conf.js';

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

