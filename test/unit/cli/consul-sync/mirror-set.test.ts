import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MirrorSet, type MirrorWriter } from '../../../../cli/consul-sync/mirror-set.js';
import type { Mirror, MirrorHealth } from '../../../../cli/consul-sync/mapping.js';
import { recordingLogger } from '../../../support/mesh/index.js';

/** A writer that records each write, in order; `failing` ids throw on put. */
function recordingWriter(failing = new Set<string>()): MirrorWriter<{ port: number }> & { writes: string[] } {
  const writes: string[] = [];
  return {
    where: 'test writer',
    writes,
    put(mirror) {
      if (failing.has(mirror.id)) return Promise.reject(new Error(`refused ${mirror.id}`));
      writes.push(`put ${mirror.id} ${mirror.body.port}`);
      return Promise.resolve();
    },
    remove(id) {
      writes.push(`remove ${id}`);
      return Promise.resolve();
    },
    report(id, health: MirrorHealth, note) {
      writes.push(`${health} ${id}${note === '' ? '' : ` (${note})`}`);
      return Promise.resolve();
    },
  };
}

function mirror(id: string, port: number, health: MirrorHealth = 'passing', note = ''): Mirror<{ port: number }> {
  return { id, body: { port }, health, note };
}

describe('consul sync mirror set', () => {
  it('writes only differences: a new instance, a changed body, a health flip, a removal', async () => {
    const writer = recordingWriter();
    const set = new MirrorSet({ writer, maxInstances: 10, log: recordingLogger() });
    await set.apply('pay', [mirror('a', 1), mirror('b', 2)]);
    await set.apply('pay', [mirror('a', 1), mirror('b', 2)]);
    await set.apply('pay', [mirror('a', 1, 'critical', 'db down'), mirror('b', 3)]);
    await set.apply('pay', [mirror('b', 3)]);
    assert.deepEqual(writer.writes, ['put a 1', 'passing a', 'put b 2', 'passing b', 'critical a (db down)', 'put b 3', 'passing b', 'remove a']);
  });

  it('keeps only the latest pending answer of a group, and refreshes passing instances in turn with the writes', async () => {
    const writer = recordingWriter();
    const set = new MirrorSet({ writer, maxInstances: 10, log: recordingLogger() });
    void set.apply('pay', [mirror('a', 1)]);
    void set.apply('pay', [mirror('a', 2)]);
    await set.apply('pay', [mirror('a', 3)]);
    assert.deepEqual(writer.writes, ['put a 3', 'passing a']);
    await set.refresh();
    await set.clear();
    assert.deepEqual(writer.writes.slice(2), ['passing a', 'remove a']);
  });

  it('holds at most maxInstances, warns once, and retries a failed write on the next round', async () => {
    const failing = new Set(['b']);
    const writer = recordingWriter(failing);
    const log = recordingLogger();
    const set = new MirrorSet({ writer, maxInstances: 2, log });
    await set.apply('pay', [mirror('a', 1), mirror('b', 2), mirror('c', 3), mirror('d', 4)]);
    assert.equal(set.size, 2);
    assert.deepEqual(writer.writes, ['put a 1', 'passing a', 'put c 3', 'passing c']);
    assert.deepEqual(log.lines.map((r) => [r.message, r.fields]), [
      ['consul sync: register failed', { into: 'test writer', instance: 'b', error: 'refused b' }],
      ['consul sync: instance limit reached, skipping new instances', { into: 'test writer', maxInstances: 2, skipped: 'd' }],
    ]);
    failing.clear();
    await set.apply('pay', [mirror('a', 1), mirror('b', 2)]);
    assert.deepEqual(writer.writes.slice(4), ['remove c', 'put b 2', 'passing b']);
  });

  it('re-registers adopted instances still wanted and removes the others', async () => {
    const writer = recordingWriter();
    const set = new MirrorSet({ writer, maxInstances: 10, log: recordingLogger() });
    set.adopt('a', 'pay');
    set.adopt('x', 'gone');
    assert.deepEqual(set.groups(), new Set(['pay', 'gone']));
    await set.apply('pay', [mirror('a', 1)]);
    await set.apply('gone', []);
    assert.deepEqual(writer.writes, ['put a 1', 'passing a', 'remove x']);
  });
});
