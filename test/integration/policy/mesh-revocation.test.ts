/**
 * Issue #12 acceptance, revocation timing through a real 3-site mesh (the shop of
 * test/support/mesh: shop at east-1 calling orders in west, stock in north and cart in east):
 * `meridian revoke --identity <shop's SPIFFE ID>` until every site's inbound refuses shop — its
 * open keep-alive HTTP/2 connection (one per destination, presenting shop's own workload
 * certificate) closed and a new call of the shop app through the mesh refused — measured from the
 * moment the command starts, three times (rolled back in between), within 5 s; then the signer
 * refuses shop's agent a new workload certificate.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, it } from 'node:test';
import type { ClientHttp2Session } from 'node:http2';
import type { RunningAgent } from '../../../agent/index.js';
import { requestWorkloadCertificate } from '../../../agent/identity/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { generatePrivateKey, type MtlsIdentity } from '../../../shared/identity/index.js';
import { h2 } from '../../support/clients.js';
import { eventually, useTempDir } from '../../support/harness.js';
import { startFederationMesh, startShop, type FederationMesh, type MeshCaller } from '../../support/mesh/index.js';
import { mtlsH2 } from '../../support/pki/index.js';
import { everywhere, meridianAt, printedVersion, workloadIdentity, writeSet } from './mesh-support.js';

const SHOP = 'spiffe://acme.internal/site/east/svc/shop';
/** Each destination site: the node serving it, the service, the host shop calls. */
const DESTINATIONS = [
  { site: 'west', node: 'west-1', service: 'orders' },
  { site: 'north', node: 'north-1', service: 'stock' },
  { site: 'east', node: 'east-2', service: 'cart' },
] as const;
const ROUNDS = 3;
const BOUND_MS = 5000;

let mesh: FederationMesh;
let agents: Map<string, RunningAgent>;
let caller: MeshCaller;
let base: number;
const timings: { site: string; closedMs: number; refusedMs: number }[][] = [];

const at = (node: string): RunningAgent => agents.get(node) ?? assert.fail(node);

/** A GET on an HTTP/2 session straight to `node`'s inbound listener, presenting `identity`: the status, or 0 when refused. */
async function directGet(node: string, identity: MtlsIdentity, service: string): Promise<{ status: number; session: ClientHttp2Session | undefined }> {
  const port = at(node).dataPlane?.inbound.port ?? assert.fail(`${node} has no data plane`);
  try {
    const { session } = await mtlsH2(port, identity, service);
    const reply = await h2(session, { ':authority': `${service}.mesh`, ':path': '/' });
    // A refused TLS 1.3 client learns it after its handshake: the session closes with no response (status NaN).
    return { status: Number.isFinite(reply.status) ? reply.status : 0, session };
  } catch {
    return { status: 0, session: undefined };
  }
}

/** Milliseconds from `start` until `session` closes (or the bound passes: then Infinity). */
async function closedAfter(session: ClientHttp2Session, start: number): Promise<number> {
  if (session.closed || session.destroyed) return performance.now() - start;
  const timer = setTimeout(() => session.destroy(), BOUND_MS * 3);
  await once(session, 'close');
  clearTimeout(timer);
  const ms = performance.now() - start;
  return ms >= BOUND_MS * 3 ? Infinity : ms;
}

/** Milliseconds from `start` until a call of the shop app to `host` through the mesh is refused (polled every 20 ms, bounded). */
async function refusedAfter(host: string, start: number): Promise<number> {
  for (let i = 0; i < 1000 && performance.now() - start < BOUND_MS * 3; i++) {
    const call = await caller.call(host);
    if (call.status !== 200) return performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Infinity;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Infinity;
}

describe('revocation through a real 3-site mesh', () => {
  before(async () => {
    mesh = await startFederationMesh(['east', 'west', 'north']);
    ({ agents, caller } = await startShop(mesh));
    const allowAll = writeSet(useTempDir('meridian-mesh-revoke-'), 'base', { 'defaults.yaml': 'kind: PolicyDefaults\nmetadata: {name: defaults}\nspec: {defaultAction: allow}\n' });
    const applied = await meridianAt(mesh, 'east', 'policy', 'apply', '-f', allowAll);
    assert.equal(applied.code, 0, applied.stderr);
    base = printedVersion(applied.stdout);
    await everywhere(mesh, agents, base);
    // Before any revocation the signer issues shop's agent a new shop certificate (the refusal below is the revocation's).
    const agent = at('east-1');
    const issued = await requestWorkloadCertificate({ nc: agent.nats() ?? assert.fail('east-1 has no NATS connection'), agent: agent.identity.current, site: 'east', service: 'shop', workloadKey: generatePrivateKey() });
    assert.match(issued.chain[0]?.subjectAltName ?? '', new RegExp(SHOP));
  });

  it(`meridian revoke --identity: every site's inbound closes the caller's open connection and refuses its new calls within ${BOUND_MS} ms (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const shop = workloadIdentity(mesh, 'east-1', at('east-1'), 'shop');
      const open = [];
      for (const d of DESTINATIONS) {
        const { session } = await eventually(async () => {
          const got = await directGet(d.node, shop, d.service);
          assert.equal(got.status, 200, `round ${round}: ${d.service} at ${d.node}`);
          return got;
        });
        assert.equal((await caller.call(`${d.service}.mesh`)).status, 200);
        open.push({ ...d, session: session ?? assert.fail() });
      }
      const start = performance.now();
      // When the new version reached the caller's own agent: how much of the figure is the CLI starting up.
      let arrived = Infinity;
      const unsubscribe = at('east-1').policy.onChange(() => (arrived = Math.min(arrived, performance.now() - start)));
      const revoke = meridianAt(mesh, 'east', 'revoke', '--identity', SHOP, '--reason', `acceptance round ${round}`);
      const measured = await Promise.all(
        open.map(async (d) => ({ site: d.site, closedMs: await closedAfter(d.session, start), refusedMs: await refusedAfter(`${d.service}.mesh`, start) })),
      );
      const revoked = await revoke;
      unsubscribe();
      assert.equal(revoked.code, 0, revoked.stderr);
      const version = printedVersion(revoked.stdout);
      timings.push(measured);
      console.log(`round ${round}: revoke (version ${version}, at east-1's agent after ${arrived.toFixed(0)} ms) → ${measured.map((m) => `${m.site} closed ${m.closedMs.toFixed(0)} ms, refused ${m.refusedMs.toFixed(0)} ms`).join('; ')}`);
      for (const m of measured) {
        assert.ok(m.closedMs < BOUND_MS, `round ${round}: ${m.site} closed shop's connection after ${m.closedMs} ms`);
        assert.ok(m.refusedMs < BOUND_MS, `round ${round}: ${m.site} refused shop's calls after ${m.refusedMs} ms`);
      }
      // A new connection with shop's certificate is refused at every site's inbound.
      for (const d of DESTINATIONS) assert.equal((await directGet(d.node, shop, d.service)).status, 0, `${d.service} at ${d.node} accepted a revoked caller`);
      if (round === ROUNDS - 1) break;
      // Lift it (roll back to the set without the entry): shop is served again with the very same certificate.
      const rolled = await meridianAt(mesh, 'east', 'policy', 'rollback', String(base));
      assert.equal(rolled.code, 0, rolled.stderr);
      await everywhere(mesh, agents, printedVersion(rolled.stdout));
      for (const d of DESTINATIONS) await eventually(async () => assert.equal((await caller.call(`${d.service}.mesh`)).status, 200), { timeoutMs: 15_000 });
    }
    const all = timings.flat().map((m) => Math.max(m.closedMs, m.refusedMs));
    const perRound = timings.map((round) => Math.max(...round.map((m) => Math.max(m.closedMs, m.refusedMs))));
    console.log(
      `revocation, from \`meridian revoke\` starting to every site refusing: per site p50 ${percentile(all, 50).toFixed(0)} ms, max ${Math.max(...all).toFixed(0)} ms; ` +
        `all 3 sites per round p50 ${percentile(perRound, 50).toFixed(0)} ms, max ${Math.max(...perRound).toFixed(0)} ms (${ROUNDS} rounds)`,
    );
  });

  it("the shop app's calls are refused, not answered by anything else, and the signer refuses shop's agent a new workload certificate", async () => {
    for (const d of DESTINATIONS) {
      const call = await caller.call(`${d.service}.mesh`);
      assert.notEqual(call.status, 200, `${d.service}: ${call.body}`);
    }
    const agent = at('east-1');
    await assert.rejects(
      requestWorkloadCertificate({ nc: agent.nats() ?? assert.fail('east-1 has no NATS connection'), agent: agent.identity.current, site: 'east', service: 'shop', workloadKey: generatePrivateKey() }),
      (error: unknown) => {
        assert.ok(isMeridianError(error, 'MERIDIAN_ERR_REVOKED'), String(error));
        assert.match(error.message, new RegExp(`${SHOP} is revoked by policy version \\d+`));
        return true;
      },
    );
  });
});
