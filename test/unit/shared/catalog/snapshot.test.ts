import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FederatedView,
  SiteState,
  loadSnapshot,
  loadSnapshotOrSetAside,
  parseServiceDefinition,
  saveSnapshot,
  startSnapshotWriter,
  toInstance,
  type NodeContext,
} from '../../../../shared/catalog/index.js';
import { isMeridianError } from '../../../../shared/errors/index.js';

const dir = mkdtempSync(join(tmpdir(), 'meridian-snapshot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = (): string => join(dir, `case-${++files}`, 'catalog-snapshot.json');

const node: NodeContext = { site: 'east', region: 'eu', zone: 'eu-a', platform: 'vm', node: 'n1' };

/** A view seeded (as from a snapshot) with `count` instances of site east. */
function viewWith(count: number): FederatedView {
  const state = new SiteState('east');
  state.lastHeardAt = Date.now();
  state.lastRevision = count;
  for (let i = 0; i < count; i++) {
    const instance = toInstance(parseServiceDefinition({ service: 'payments', instanceId: `p-${i}`, ports: { http: 8000 + i } }, 'test'), node, { leaseTtlMs: 3000 });
    const key = `svc.payments.p-${i}`;
    state.instances.set(key, { key, revision: i + 1, instance });
  }
  const view = new FederatedView({ sites: ['east'] });
  view.seed(state);
  return view;
}

const CORRUPT: ReadonlyArray<{ name: string; bytes: Buffer }> = [
  { name: 'an empty file', bytes: Buffer.alloc(0) },
  { name: 'truncated JSON', bytes: Buffer.from('{"kind":"header","version":2,"savedAt":"2024-01-01T00:00:00.000Z"}\n{"kind":"site","site":"east","lastHe') },
  { name: 'a wrong version', bytes: Buffer.from('{"kind":"header","version":1,"savedAt":"2024-01-01T00:00:00.000Z"}\n') },
  { name: 'binary garbage', bytes: Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80, 0x0a, 0xfe, 0x00, 0x7b]) },
  { name: 'lines of the wrong shape', bytes: Buffer.from('{"kind":"header","version":2,"savedAt":"x"}\n{"kind":"site","site":42}\n') },
];

describe('catalog snapshot file', () => {
  it('round-trips a view: sites, instances and revisions', async () => {
    const path = fresh();
    await saveSnapshot(path, viewWith(3));
    const [east, ...others] = loadSnapshot(path);
    assert.equal(others.length, 0);
    assert.equal(east?.site, 'east');
    assert.equal(east?.lastRevision, 3);
    assert.deepEqual([...(east?.instances.keys() ?? [])].sort(), ['svc.payments.p-0', 'svc.payments.p-1', 'svc.payments.p-2']);
  });

  it('many overlapping saves all succeed and leave one valid snapshot and no temp file', async () => {
    const path = fresh();
    const view = viewWith(500);
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => saveSnapshot(path, view)));
    assert.deepEqual(results.filter((r) => r.status === 'rejected'), []);
    assert.equal(loadSnapshot(path)[0]?.instances.size, 500);
    assert.deepEqual(readdirSync(join(path, '..')), ['catalog-snapshot.json']);
  });

  it("a writer's flush racing its own loop (an agent stopping) never fails", async () => {
    for (let round = 0; round < 5; round++) {
      const path = fresh();
      const view = viewWith(300);
      const writer = startSnapshotWriter(view, path, { minIntervalMs: 1 });
      // The loop saves at once (the view has changes); stop() then flushes as the agent does.
      await new Promise((resolve) => setImmediate(resolve));
      writer.stop();
      await writer.flush();
      assert.equal(loadSnapshot(path)[0]?.instances.size, 300);
      assert.deepEqual(readdirSync(join(path, '..')), ['catalog-snapshot.json']);
    }
  });

  for (const { name, bytes } of CORRUPT) {
    it(`refuses ${name}, naming the file`, () => {
      const path = fresh();
      saveRaw(path, bytes);
      assert.throws(() => loadSnapshot(path), (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_CONFIG_INVALID') && error.message.startsWith(`${path}: unreadable catalog snapshot`));
    });

    it(`sets ${name} aside as <file>.corrupt-<timestamp> and starts empty`, () => {
      const path = fresh();
      saveRaw(path, bytes);
      const setAside: { to: string | undefined; error: Error }[] = [];
      assert.deepEqual(loadSnapshotOrSetAside(path, (to, error) => setAside.push({ to, error })), []);
      assert.equal(setAside.length, 1);
      const moved = readdirSync(join(path, '..'));
      assert.equal(moved.length, 1);
      assert.match(moved[0] ?? '', /^catalog-snapshot\.json\.corrupt-\d{8}T\d{6}(\d{3})?Z$/);
      assert.equal(setAside[0]?.to, join(path, '..', moved[0] ?? ''));
      assert.deepEqual(readFileSync(setAside[0]?.to ?? ''), bytes);
      assert.match(setAside[0]?.error.message ?? '', /unreadable catalog snapshot/);
    });
  }

  it('a missing file is an empty start, with nothing set aside', () => {
    const path = fresh();
    let called = false;
    assert.deepEqual(loadSnapshotOrSetAside(path, () => (called = true)), []);
    assert.equal(called, false);
  });
});

function saveRaw(path: string, bytes: Buffer): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
}
