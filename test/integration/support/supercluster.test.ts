import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { gatewayName, startSupercluster, type SuperclusterHandle } from '../../support/servers/index.js';
import { eventually, timed, uniqueName, useSupercluster } from '../../support/harness.js';

// One supercluster for the whole file: start-up is dominated by the JetStream meta election.
const SITES = ['east', 'west', 'south'] as const;
let sc: SuperclusterHandle;
const clients = new Map<string, NatsConnection>();

before(async () => {
  const { ms, value } = await timed(() => useSupercluster({ sites: SITES }));
  sc = value;
  console.log(`supercluster of ${SITES.length} sites ready in ${ms} ms`);
  for (const site of SITES) clients.set(site, await connect({ servers: sc.site(site).url, maxReconnectAttempts: -1 }));
});

after(async () => {
  for (const nc of clients.values()) await nc.close();
});

function client(site: string): NatsConnection {
  const nc = clients.get(site);
  assert.ok(nc, `no client for ${site}`);
  return nc;
}

/** KV handle with a short JetStream timeout, so a cut-off read fails fast. */
async function openKv(site: string, bucket: string): Promise<KV> {
  return new Kvm(jetstream(client(site), { timeout: 2000 })).open(bucket);
}

/**
 * Creates `bucket` with its stream placed in `site`'s own cluster. Right after a heal or a
 * restart the meta leader may still count a site's peer as offline, so placement is retried.
 */
async function createKvIn(site: string, bucket: string): Promise<KV> {
  return eventually(() => new Kvm(jetstream(client(site), { timeout: 5000 })).create(bucket, { placement: { cluster: site, tags: [] } }), { timeoutMs: 20_000, intervalMs: 250 });
}

interface Gatewayz {
  name: string;
  outbound_gateways?: Record<string, { connection?: object }>;
  inbound_gateways?: Record<string, object[]>;
}

async function gatewayz(monitorUrl: string): Promise<Gatewayz> {
  return (await (await fetch(`${monitorUrl}/gatewayz`)).json()) as Gatewayz;
}

test('every site is its own cluster, gateways link all of them, and a meta leader exists', async () => {
  assert.deepEqual(
    sc.sites.map((s) => [s.site, s.cluster]),
    SITES.map((s) => [s, s]),
  );
  for (const site of sc.sites) {
    const gz = await gatewayz(site.monitorUrl);
    assert.equal(gz.name, site.cluster);
    assert.deepEqual(Object.keys(gz.outbound_gateways ?? {}).sort(), SITES.filter((s) => s !== site.site).sort());
    const jsz = (await (await fetch(`${site.monitorUrl}/jsz`)).json()) as { meta_cluster: { leader?: string; cluster_size: number } };
    assert.ok(jsz.meta_cluster.leader, `${site.site} sees a meta leader`);
    assert.equal(jsz.meta_cluster.cluster_size, SITES.length);
  }
  assert.throws(() => sc.site('nowhere'), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: /unknown site "nowhere"; sites are east, west, south/ });
});

test('a bucket created on east lives in cluster east and is readable from west', { timeout: 30_000 }, async () => {
  const bucket = uniqueName('placed');
  await (await createKvIn('east', bucket)).put('k', 'from-east');
  const info = await (await jetstreamManager(client('west'))).streams.info(`KV_${bucket}`);
  assert.equal(info.cluster?.name, 'east');
  const fromWest = await openKv('west', bucket);
  await eventually(async () => assert.equal((await fromWest.get('k'))?.string(), 'from-east'));
});

test('partition(east) cuts west off while east keeps writing; heal(east) carries the write over', { timeout: 60_000 }, async (t) => {
  const bucket = uniqueName('split');
  const kvEast = await createKvIn('east', bucket);
  await kvEast.put('k', 'v1');
  const kvWest = await openKv('west', bucket);
  await eventually(async () => assert.equal((await kvWest.get('k'))?.string(), 'v1'));

  const pids = sc.sites.map((s) => s.server.pid);
  const cut = await timed(() => sc.partition('east'));
  t.after(() => sc.heal('east')); // never leave the shared supercluster split
  console.log(`partition(east) took ${cut.ms} ms`);
  assert.deepEqual(sc.sites.map((s) => s.server.pid), pids, 'a partition restarts no server');
  const eastView = await gatewayz(sc.site('east').monitorUrl);
  assert.deepEqual(Object.keys(eastView.inbound_gateways ?? {}), [], 'east accepts no gateway link');

  // West must not reach east's bucket, and must find out within the client's JetStream timeout.
  const read = await timed(() => kvWest.get('k').then(() => 'answered', (err: unknown) => err));
  assert.ok(read.value instanceof Error, `read from west during the partition: ${String(read.value)}`);
  assert.ok(read.ms < 5000, `failed within the bound (${read.ms} ms)`);
  console.log(`read from west during the partition failed in ${read.ms} ms: ${read.value.message}`);

  // Stream groups live in their own cluster: east keeps writing to its existing bucket.
  await kvEast.put('k', 'during-partition');
  assert.equal((await kvEast.get('k'))?.string(), 'during-partition');

  const healed = await timed(() => sc.heal('east'));
  console.log(`heal(east) took ${healed.ms} ms`);
  const seen = await timed(() =>
    eventually(async () => assert.equal((await kvWest.get('k'))?.string(), 'during-partition'), { timeoutMs: 15_000 }),
  );
  console.log(`west read east's partition-time write ${seen.ms} ms after heal resolved`);
});

test('stopSite/restartSite keep the site\'s store and relink it', { timeout: 60_000 }, async () => {
  const bucket = uniqueName('restart');
  await (await createKvIn('south', bucket)).put('k', 'kept');
  const oldPid = sc.site('south').server.pid;
  const url = sc.site('south').url;
  await sc.stopSite('south');
  assert.equal(sc.site('south').server.running, false);
  const back = await timed(() => sc.restartSite('south'));
  console.log(`restartSite(south) relinked in ${back.ms} ms`);
  assert.notEqual(sc.site('south').server.pid, oldPid);
  assert.equal(sc.site('south').url, url);
  const fromWest = await openKv('west', bucket);
  await eventually(async () => assert.equal((await fromWest.get('k'))?.string(), 'kept'), { timeoutMs: 15_000 });
});

test('bad site lists are refused before anything starts', async () => {
  await assert.rejects(startSupercluster({ sites: [] }), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: /at least one site/ });
  await assert.rejects(startSupercluster({ sites: ['a b'] }), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: /got "a b"/ });
  await assert.rejects(startSupercluster({ sites: ['a', 'a'] }), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: /must be unique/ });
});

test('the relay reads the dialling site from a gateway CONNECT line only', () => {
  assert.equal(gatewayName('CONNECT {"echo":false,"verbose":false,"gateway":"east","headers":true}'), 'east');
  assert.equal(gatewayName('CONNECT {"verbose":false}'), undefined);
  assert.equal(gatewayName('PING'), undefined);
  assert.equal(gatewayName('CONNECT {not json'), undefined);
});
