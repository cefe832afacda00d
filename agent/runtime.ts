import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  FederatedView,
  SiteCatalogWriter,
  ensureSiteBucket,
  loadSnapshot,
  siteConnectOptions,
  startLeaseReaper,
  startSnapshotWriter,
  type NodeContext,
} from '../shared/catalog/index.js';
import { MeridianError } from '../shared/errors/index.js';
import { TrustBundle, parseCertificates, readPrivateKey, type MtlsIdentity } from '../shared/identity/index.js';
import type { Logger } from '../shared/telemetry/index.js';
import { startAgentApi, type AgentApi } from './api/index.js';
import { agentTimings, type AgentConfig } from './config.js';
import { followDefinitions } from './definitions.js';
import { Registrar } from './registration/registrar.js';

/** A running agent. */
export interface RunningAgent {
  readonly api: AgentApi;
  readonly view: FederatedView;
  readonly registrar: Registrar;
  /** Graceful stop: deregisters this node's instances at once, then closes everything. */
  stop(): Promise<void>;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot read ${what}`, { cause });
  }
}

function loadIdentity(config: AgentConfig): MtlsIdentity {
  return {
    privateKey: readPrivateKey(config.nats.keyFile),
    chain: parseCertificates(readText(config.nats.certFile, 'certificate'), config.nats.certFile),
    bundle: TrustBundle.fromPem(config.nats.trustDomain, readText(config.nats.bundleFile, 'trust bundle'), config.nats.bundleFile),
  };
}

/**
 * Starts an agent: the API and the catalog view come up at once (from the last-known-good
 * snapshot when there is one), and the NATS side attaches whenever the site's NATS answers.
 */
export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  const timings = agentTimings(config);
  const node: NodeContext = { site: config.site, region: config.region, zone: config.zone, platform: config.platform, node: config.node };
  const identity = loadIdentity(config);
  const password = readText(config.nats.passwordFile, 'NATS password').trim();
  const snapshotPath = join(config.dataDir, 'catalog-snapshot.json');
  const view = new FederatedView({ staleAfterMs: timings.staleAfterMs, sites: [config.site], onError: (site, error) => log.warn('catalog watch interrupted', { site, error: error.message }) });
  for (const state of loadSnapshot(snapshotPath)) view.seed(state);
  const registrar = new Registrar({ node, heartbeatMs: timings.heartbeatMs, leaseTtlMs: timings.leaseTtlMs, onError: (error) => log.warn('catalog write failed', { error: error.message }) });
  let nc: NatsConnection | undefined;
  const api = await startAgentApi({ host: config.api.host, port: config.api.port, registry: registrar, reader: view, node, connected: () => nc !== undefined && !nc.isClosed() });
  const definitions = config.definitionsDir === undefined ? undefined : await followDefinitions({ dir: config.definitionsDir, registrar, node, log });
  const snapshots = startSnapshotWriter(view, snapshotPath);
  let reaper: { stop(): void } | undefined;
  let stopping = false;
  const attach = async (): Promise<void> => {
    const options = siteConnectOptions({ servers: config.nats.url, site: config.site, password, identity, name: `meridian-agent-${config.node}` });
    nc = await connect({ ...options, waitOnFirstConnect: true });
    if (stopping) return;
    const writer = new SiteCatalogWriter(await ensureSiteBucket(nc, config.site, { deadlineMs: 60_000 }), config.site);
    view.connect(nc);
    registrar.attach(writer);
    reaper = startLeaseReaper({ view, writer, intervalMs: timings.heartbeatMs });
    log.info('attached to the site catalog', { site: config.site, nats: config.nats.url });
  };
  void attach().catch((error: unknown) => log.error('cannot attach to NATS', { error: (error as Error).message }));
  log.info('agent started', { api: api.url, site: config.site, node: config.node });
  return {
    api,
    view,
    registrar,
    async stop() {
      stopping = true;
      reaper?.stop();
      await definitions?.close();
      await registrar.stop({ deregister: true });
      snapshots.stop();
      await snapshots.flush().catch((error: unknown) => log.warn('final catalog snapshot failed', { error: (error as Error).message }));
      view.close();
      await api.close();
      await nc?.drain().catch(() => undefined);
    },
  };
}
