/**
 * The issue's acceptance test: a root rotation under cross-site traffic, with 0 handshake failures
 * and 0 failed calls. A 3-site federation (real nats-servers, each with a pid file and a CA file its
 * control service keeps) whose role, workload and nats-server certificates live 4 s goes through
 * `ca rotate start`, `ca site --renew` for every site and `ca rotate finish` while an app calls a
 * same-site and two cross-site services all along.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { before, it } from 'node:test';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import type { RunningAgent } from '../../../agent/index.js';
import { siteConnectOptions } from '../../../shared/catalog/index.js';
import { finishRootRotation, parseCertificates, renewSiteCa, startRootRotation, type LiveIdentity, type MtlsIdentity } from '../../../shared/identity/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import { eventually } from '../../support/harness.js';
import { SHOP_HOSTS, SHOP_NODES, quietLogger, startFederationMesh, startShop, watchNatsConnections, type FederationMesh, type MeshCaller } from '../../support/mesh/index.js';

const TTL_MS = 4000;
const SITES = ['east', 'west', 'north'] as const;
/** Bounds of the traffic: it stops when told, or at these. */
const MAX_CALLS = 20_000;
const MAX_TRAFFIC_MS = 80_000;

let mesh: FederationMesh;
let agents: Map<string, RunningAgent>;
let caller: MeshCaller;
const warnings: { component: string; level: string; message: string; fields: Record<string, unknown> }[] = [];

/** Every warning and error of every component is kept (a refused handshake is one); info goes to the quiet logger. */
function recording(component: string): Logger {
  const quiet = quietLogger(component);
  const keep = (level: 'warn' | 'error') => (message: string, fields: Record<string, unknown> = {}): void => {
    warnings.push({ component, level, message, fields });
    quiet[level](message, fields);
  };
  return { info: (message, fields) => quiet.info(message, fields), warn: keep('warn'), error: keep('error') };
}

function warningLines(): string[] {
  return warnings.map((w) => `${w.component} ${w.level} ${w.message} ${JSON.stringify(w.fields)}`);
}

before(async () => {
  mesh = await startFederationMesh(SITES, { roleTtlMs: TTL_MS, workloadTtlMs: TTL_MS, natsServer: true, logger: recording });
  ({ agents, caller } = await startShop(mesh));
});

/** A process of the federation whose trust is checked: its identity, the trust version it applied, its bundle file. */
interface Holder {
  readonly name: string;
  readonly site: string;
  readonly identity: () => MtlsIdentity;
  readonly version?: () => number;
  /** Why it refused the last document, if it did. */
  readonly refused?: () => string | undefined;
  readonly bundleFile?: string;
}

/** Every agent, gateway and control service, and every workload identity the agents present. */
function holders(): Holder[] {
  const list: Holder[] = [];
  const live = (identity: LiveIdentity) => () => identity.current;
  for (const [site, node] of SHOP_NODES) {
    const agent = agents.get(node) ?? assert.fail(node);
    const { trust } = agent.credentials;
    list.push({ name: `agent ${node}`, site, identity: live(agent.identity), version: () => trust.version, refused: () => trust.refused, bundleFile: join(mesh.dir, `${node}-bundle.pem`) });
    for (const service of agent.dataPlane?.identities().keys() ?? []) {
      list.push({ name: `workload ${service}@${node}`, site, identity: () => agent.dataPlane?.identities().get(service) ?? assert.fail(service) });
    }
  }
  for (const site of SITES) {
    const gateway = mesh.gateways.get(site) ?? assert.fail(site);
    const { trust } = gateway.credentials;
    list.push({ name: `gateway ${site}`, site, identity: live(gateway.identity), version: () => trust.version, refused: () => trust.refused, bundleFile: join(mesh.dir, `gateway-${site}-bundle.pem`) });
    list.push({ name: `control ${site}`, site, identity: live((mesh.controls.get(site) ?? assert.fail(site)).identity) });
  }
  return list;
}

const fingerprints = (roots: readonly X509Certificate[]): string[] => roots.map((r) => r.fingerprint256).sort();

/** Waits until every holder trusts exactly `roots` (and, for those that follow the document, applied `version`). */
async function allTrust(roots: readonly X509Certificate[], versions: ReadonlyMap<string, number>, what: string): Promise<void> {
  const want = fingerprints(roots);
  await eventually(
    () => {
      for (const holder of holders()) {
        const state = `(version ${holder.version?.() ?? '-'}, refused: ${holder.refused?.() ?? 'none'}; warnings: ${warningLines().join(' | ')})`;
        assert.deepEqual(fingerprints(holder.identity().bundle.roots), want, `${holder.name} trusts ${what} ${state}`);
        if (holder.version !== undefined) assert.equal(holder.version(), versions.get(holder.site), `${holder.name} applied the document of ${what} ${state}`);
      }
      for (const site of SITES) assert.deepEqual(fingerprints(parseCertificates(readFileSync(join(mesh.dir, `nats-${site}-ca.pem`), 'utf8'), 'ca file')), want, `nats-server ${site}'s CA file holds ${what}`);
    },
    { timeoutMs: 10_000, intervalMs: 200 },
  );
}

/**
 * The certificate the site's nats-server presents to a new client now: a whole NATS connection as
 * an agent of the site (the server's SPIFFE ID and chain checked against the agent's bundle), so
 * the probe leaves no half-done handshake in the server's log.
 */
async function servedByNats(site: string): Promise<X509Certificate> {
  const node = SHOP_NODES.find(([s]) => s === site)?.[1] ?? assert.fail(site);
  const identity = agents.get(node)?.identity.current ?? assert.fail(node);
  const options = siteConnectOptions({ servers: mesh.fed.nats.site(site).url, site, password: mesh.fed.setups.get(site)?.password ?? assert.fail(site), identity, name: 'rotation-probe' });
  const tls = options.tls as { checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined };
  let served: X509Certificate | undefined;
  const checkServerIdentity = (host: string, cert: PeerCertificate): Error | undefined => ((served = new X509Certificate(cert.raw)), tls.checkServerIdentity(host, cert));
  const nc = await connect({ ...options, maxReconnectAttempts: 0, timeout: 3000, tls: { ...tls, checkServerIdentity } as NonNullable<ConnectionOptions['tls']> });
  await nc.close();
  return served ?? assert.fail(`nats-server ${site} presented no certificate`);
}

function issuedBy(certificate: X509Certificate | undefined, ca: X509Certificate): boolean {
  return certificate !== undefined && certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
}

/** Waits until every leaf in use (roles, workloads, nats-servers) is issued by its site's renewed CA and presents it in its chain. */
async function allReissued(siteCas: ReadonlyMap<string, X509Certificate>): Promise<void> {
  await eventually(
    async () => {
      for (const holder of holders()) {
        const ca = siteCas.get(holder.site) ?? assert.fail(holder.site);
        const [leaf, presented] = holder.identity().chain;
        assert.ok(issuedBy(leaf, ca), `${holder.name}'s certificate is issued by the renewed ${holder.site} CA`);
        assert.equal(presented?.fingerprint256, ca.fingerprint256, `${holder.name} presents the renewed ${holder.site} CA`);
      }
      for (const site of SITES) assert.ok(issuedBy(await servedByNats(site), siteCas.get(site) ?? assert.fail(site)), `nats-server ${site} serves a certificate of the renewed CA`);
    },
    { timeoutMs: 5 * TTL_MS, intervalMs: 250 },
  );
}

function renewals(): number {
  let total = 0;
  for (const agent of agents.values()) total += agent.credentials.renewal.renewals;
  for (const site of SITES) total += (mesh.gateways.get(site)?.credentials.renewal.renewals ?? 0) + (mesh.controls.get(site)?.renewal.renewals ?? 0);
  return total;
}

it('a root rotation (start, every site CA renewed, finish) under same-site and cross-site traffic: 0 failed calls, 0 refused handshakes, NATS connections kept', async () => {
  const started = Date.now();
  const pki = mesh.fed.pki;
  const oldRoot = pki.loadRoot().certificate;
  const initial = new Map<string, number>();
  await eventually(() => {
    for (const site of SITES) initial.set(site, mesh.gateways.get(site)?.credentials.trust.version ?? 0);
    for (const holder of holders()) assert.ok(holder.version === undefined || holder.version() > 0, `${holder.name} applied a first document`);
  });
  const { connections, events } = watchNatsConnections(mesh, agents);
  const renewedBefore = renewals();
  warnings.length = 0;
  const traffic = caller.traffic(SHOP_HOSTS, { maxCalls: MAX_CALLS, maxMs: MAX_TRAFFIC_MS });

  const { next } = startRootRotation(pki);
  await allTrust([oldRoot, next.certificate], new Map(SITES.map((s) => [s, (initial.get(s) ?? 0) + 1])), 'both roots');
  const siteCas = new Map(SITES.map((site) => [site, renewSiteCa(pki, site).certificate]));
  await allReissued(siteCas);
  // A leaf the previous site CAs signed may live TTL_MS: finish refuses before then.
  await new Promise((resolve) => setTimeout(resolve, TTL_MS));
  finishRootRotation(pki, { leafTtlMs: TTL_MS });
  const finalVersions = new Map(SITES.map((s) => [s, (initial.get(s) ?? 0) + 2]));
  await allTrust([next.certificate], finalVersions, 'the new root only');
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  await traffic.stop();

  const failed = traffic.results.filter((r) => r.status !== 200);
  console.log(
    `root rotation: ${traffic.results.length} calls, ${failed.length} failed; ${renewals() - renewedBefore} role renewals; trust versions ${[...finalVersions].map(([s, v]) => `${s} ${v}`).join(', ')}; ${Date.now() - started} ms`,
  );
  assert.deepEqual(failed.slice(0, 5), []);
  for (const host of SHOP_HOSTS) assert.ok(traffic.results.filter((r) => r.host === host).length > 100, `${host} was called`);
  assert.deepEqual(warningLines(), [], 'no refused handshake, failed request or renewal');
  assert.deepEqual(events, [], 'no NATS disconnect or reconnect');
  for (const [role, nc] of connections) {
    assert.equal(nc.isClosed(), false, `${role}: NATS connection closed`);
    if (role.startsWith('agent ')) assert.equal(agents.get(role.slice(6))?.nats(), nc, `${role}: same NATS connection object`);
  }
  // The old root is gone everywhere: every process's bundle, its bundle file, each nats-server's CA file; each nats-server serves the new chain.
  for (const holder of holders()) {
    assert.ok(!fingerprints(holder.identity().bundle.roots).includes(oldRoot.fingerprint256), `${holder.name} no longer trusts the old root`);
    if (holder.bundleFile !== undefined) assert.deepEqual(fingerprints(parseCertificates(readFileSync(holder.bundleFile, 'utf8'), holder.bundleFile)), [next.certificate.fingerprint256], `${holder.bundleFile}`);
  }
  for (const site of SITES) {
    assert.ok(issuedBy(await servedByNats(site), siteCas.get(site) ?? assert.fail(site)), `nats-server ${site} serves the new chain`);
    // The server's side of every handshake: it reloaded (SIGHUP from the control service) and refused no client.
    const output = mesh.fed.nats.site(site).server.output();
    assert.match(output, /Reloaded: tls/, `nats-server ${site} reloaded its TLS configuration`);
    assert.deepEqual(output.split('\n').filter((line) => !line.includes('Reloaded:') && /handshake|authentication|authorization|\[ERR\]/i.test(line)), [], `nats-server ${site} refused nothing`);
  }
});
