import type { CatalogReader } from '../../shared/catalog/index.js';
import { parseDuration } from '../../shared/config/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import type { AgentConfig } from '../config.js';
import { startDnsServer, type DnsServer } from './server.js';

/** What the agent's DNS answers from. */
export interface AgentDnsDeps {
  readonly catalog: Pick<CatalogReader, 'query' | 'sites' | 'revision'>;
  readonly site: string;
  /** The agent's outbound HTTP listener address, when one listens. */
  readonly meshAddress: () => string | undefined;
  readonly log: Logger;
}

/** Starts the DNS server of the config's `dns` section (every field filled, as the schema's defaults do). */
export async function startAgentDns(section: NonNullable<AgentConfig['dns']>, deps: AgentDnsDeps): Promise<DnsServer> {
  const server = await startDnsServer({
    host: section.host,
    port: section.port,
    zone: { catalog: deps.catalog, site: deps.site, meshAddress: deps.meshAddress, ttl: Math.floor(parseDuration(section.ttl, '/dns/ttl') / 1000) },
    maxQueriesPerSecond: section.maxQueriesPerSecond,
    maxTcpConnections: section.maxTcpConnections,
    tcpTimeoutMs: parseDuration(section.tcpTimeout, '/dns/tcpTimeout'),
    log: deps.log,
  });
  deps.log.info('DNS listening', { host: server.host, port: server.port, transports: ['udp', 'tcp'] });
  return server;
}
