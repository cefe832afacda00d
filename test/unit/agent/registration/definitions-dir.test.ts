import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  loadDefinitionFile,
  retiredInstanceIds,
  watchDefinitionsDir,
  type DefinitionsChange,
  type DefinitionsWatcher,
} from '../../../../agent/registration/definitions/index.js';
import { isMeridianError } from '../../../../shared/errors/index.js';

/** Long enough that no fs.watch event triggers a scan during a test: those tests drive scans themselves. */
const NO_WATCH_DEBOUNCE = 60_000;

const PAYMENTS = 'service: payments\ninstanceId: payments-1\nports:\n  http: 8080\n';
const ORDERS_JSON = JSON.stringify({ service: 'orders', instanceId: 'orders-1', ports: { http: 8081 }, protocol: 'grpc' });

/** Records every change passed to onChange, and lets a test wait for one that matches. */
class ChangeLog {
  readonly changes: DefinitionsChange[] = [];
  #waiters: { match: (c: DefinitionsChange) => boolean; resolve: (c: DefinitionsChange) => void }[] = [];

  readonly onChange = (change: DefinitionsChange): void => {
    this.changes.push(change);
    this.#waiters = this.#waiters.filter((w) => !(w.match(change) && (w.resolve(change), true)));
  };

  waitFor(match: (c: DefinitionsChange) => boolean, ms: number): Promise<DefinitionsChange> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching change within ${ms} ms; saw ${JSON.stringify(this.changes)}`)), ms);
      this.#waiters.push({ match, resolve: (c) => (clearTimeout(timer), resolve(c)) });
    });
  }
}

function signal(): { promise: Promise<void>; fire: () => void } {
  let fire: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

let root: string;
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'meridian-definitions-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(files: Record<string, string> = {}): Promise<string> {
  const dir = join(root, `case-${++counter}`);
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function open(dir: string, debounceMs = NO_WATCH_DEBOUNCE): Promise<{ watcher: DefinitionsWatcher; log: ChangeLog }> {
  const log = new ChangeLog();
  const watcher = await watchDefinitionsDir({ dir, onChange: log.onChange, debounceMs });
  return { watcher, log };
}

function summary(change: DefinitionsChange): { upserted: string[]; removed: string[]; errors: string[] } {
  return {
    upserted: change.upserted.map((u) => `${u.path}#${u.index}:${u.definition.service}`),
    removed: change.removed.map((r) => `${r.path}#${r.index}`),
    errors: change.errors.map((e) => e.error.message),
  };
}

describe('definitions directory: loading', () => {
  it('loads YAML, JSON arrays and multi-document YAML, applies defaults and ignores other files', async () => {
    const dir = await freshDir({
      'payments.yaml': PAYMENTS,
      'orders.json': `[${ORDERS_JSON}, {"service": "orders", "instanceId": "orders-2", "ports": {"http": 8082}}]`,
      'edge.yml': '# two documents\n---\nservice: edge\nports: {http: 80}\n---\n---\nservice: edge-admin\nports: {admin: 9000}\n',
      // Dotfiles, editor leftovers and other extensions are not read (they would be errors).
      ...Object.fromEntries(['.hidden.yaml', 'a.yaml~', '.#a.yaml', '#a.yaml#', 'a.yaml.swp', 'a.txt'].map((n) => [n, 'x: [bad'])),
    });
    await mkdir(join(dir, 'nested.yaml'));
    await writeFile(join(dir, 'nested.yaml', 'inner.yaml'), PAYMENTS.replace('payments-1', 'inner-1'));
    const { watcher, log } = await open(dir);
    try {
      assert.equal(log.changes.length, 1, 'the first scan is passed to onChange before the watcher resolves');
      const first = log.changes[0];
      assert.ok(first !== undefined);
      assert.deepEqual(summary(first), {
        upserted: [
          `${join(dir, 'edge.yml')}#0:edge`,
          `${join(dir, 'edge.yml')}#1:edge-admin`,
          `${join(dir, 'orders.json')}#0:orders`,
          `${join(dir, 'orders.json')}#1:orders`,
          `${join(dir, 'payments.yaml')}#0:payments`,
        ],
        removed: [],
        errors: [],
      });
      const payments = first.upserted.find((u) => u.definition.service === 'payments')?.definition;
      const defaults = { address: '127.0.0.1', protocol: 'http', version: '0.0.0', labels: {}, weight: 100, export: false, partition: { mode: 'keep-last-known' } };
      assert.deepEqual(payments, { service: 'payments', instanceId: 'payments-1', ports: { http: 8080 }, ...defaults });
      assert.equal(first.upserted.find((u) => u.definition.instanceId === 'orders-1')?.definition.protocol, 'grpc');
      assert.equal(watcher.current().definitions.length, 5);
    } finally {
      await watcher.close();
    }
  });

  it('fails with an error naming a missing directory, and checks its options', async () => {
    const baseline = process.listenerCount('SIGHUP');
    const missing = join(root, 'does-not-exist');
    await assert.rejects(
      watchDefinitionsDir({ dir: missing, onChange: () => undefined }),
      (err: unknown) => isMeridianError(err, 'MERIDIAN_ERR_CONFIG_INVALID') && err.message === `definitions directory ${missing}: does not exist`,
    );
    const dir = await freshDir();
    await assert.rejects(
      watchDefinitionsDir({ dir, onChange: () => undefined, debounceMs: -1 }),
      (err: unknown) => isMeridianError(err, 'MERIDIAN_ERR_BAD_ARGUMENT') && /options\.debounceMs must be a non-negative number/.test(err.message),
    );
    assert.equal(process.listenerCount('SIGHUP'), baseline, 'a failed start leaves no SIGHUP listener behind');
  });

  it('loadDefinitionFile reports every problem of one file', async () => {
    const dir = await freshDir({ 'mixed.json': `[${ORDERS_JSON}, {"service": "Bad_Name", "ports": {}}]` });
    const path = join(dir, 'mixed.json');
    const { definitions, errors } = await loadDefinitionFile(path);
    assert.deepEqual(definitions.map((d) => d.source), [`${path}[0]`]);
    assert.deepEqual(
      errors.map((e) => e.message),
      [`${path}[1]: invalid configuration: /service: Expected string to match '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'; /ports: Expected object to have at least 1 properties`],
    );
  });
});

describe('definitions directory: changes', () => {
  it('reports added, edited and deleted files, and nothing for an unchanged rescan', async () => {
    const dir = await freshDir({ 'payments.yaml': PAYMENTS });
    const { watcher } = await open(dir);
    const orders = join(dir, 'orders.json');
    const payments = join(dir, 'payments.yaml');
    try {
      await writeFile(orders, ORDERS_JSON);
      assert.deepEqual(summary(await watcher.rescan()), { upserted: [`${orders}#0:orders`], removed: [], errors: [] });

      await writeFile(payments, PAYMENTS.replace('8080', '9090'));
      const edited = await watcher.rescan();
      assert.deepEqual(edited.upserted.map((u) => [u.path, u.definition.ports, u.previous?.ports]), [[payments, { http: 9090 }, { http: 8080 }]]);

      // Same content, other key order and a comment: not a change.
      await writeFile(payments, '# rewritten\nports: {http: 9090}\ninstanceId: payments-1\nservice: payments\nweight: 100\n');
      assert.deepEqual(summary(await watcher.rescan()), { upserted: [], removed: [], errors: [] });

      await unlink(orders);
      const removed = await watcher.rescan();
      assert.deepEqual(summary(removed), { upserted: [], removed: [`${orders}#0`], errors: [] });
      assert.equal(removed.removed[0]?.definition.instanceId, 'orders-1');
    } finally {
      await watcher.close();
    }
  });

  it('follows the directory with fs.watch, including rename-replace saves', async () => {
    const dir = await freshDir({ 'payments.yaml': PAYMENTS });
    const { watcher, log } = await open(dir, 20);
    const orders = join(dir, 'orders.yaml');
    try {
      const added = log.waitFor((c) => c.upserted.some((u) => u.path === orders), 5000);
      await writeFile(orders, 'service: orders\nports: {http: 81}\n');
      await added;

      const replaced = log.waitFor((c) => c.upserted.some((u) => u.path === orders && u.definition.version === '2.0.0'), 5000);
      await writeFile(join(dir, '.orders.yaml.tmp'), 'service: orders\nversion: 2.0.0\nports: {http: 81}\n');
      await rename(join(dir, '.orders.yaml.tmp'), orders);
      await replaced;

      const removed = log.waitFor((c) => c.removed.some((r) => r.path === orders), 5000);
      await unlink(orders);
      await removed;
      // A change becomes the last good state once onChange returns; a rescan runs after that.
      assert.deepEqual(summary(await watcher.rescan()), { upserted: [], removed: [], errors: [] });
      assert.deepEqual(watcher.current().definitions.map((d) => d.definition.service), ['payments']);
    } finally {
      await watcher.close();
    }
  });

  it('moves definitions between files and within a file without retiring their instances', async () => {
    const orders = 'service: orders\ninstanceId: orders-1\nports: {http: 81}\n';
    const dir = await freshDir({ 'a.yaml': PAYMENTS, 'b.yaml': `${orders}---\nservice: cart\ninstanceId: cart-1\nports: {http: 82}\n` });
    const { watcher } = await open(dir);
    try {
      await rename(join(dir, 'a.yaml'), join(dir, 'c.yaml'));
      await writeFile(join(dir, 'b.yaml'), `service: cart\ninstanceId: cart-1\nports: {http: 82}\n---\n${orders}`);
      const moved = await watcher.rescan();
      assert.deepEqual(summary(moved), {
        upserted: [`${join(dir, 'b.yaml')}#0:cart`, `${join(dir, 'b.yaml')}#1:orders`, `${join(dir, 'c.yaml')}#0:payments`],
        removed: [`${join(dir, 'a.yaml')}#0`],
        errors: [],
      });
      assert.deepEqual(retiredInstanceIds(moved), []);

      await writeFile(join(dir, 'b.yaml'), orders.replace('orders-1', 'orders-2'));
      assert.deepEqual(retiredInstanceIds(await watcher.rescan()), ['cart-1', 'orders-1']);
    } finally {
      await watcher.close();
    }
  });
});

describe('definitions directory: bad input changes nothing', () => {
  it('keeps the last good definitions of a file that turns invalid, and takes the fix', async () => {
    const dir = await freshDir({ 'payments.yaml': PAYMENTS, 'orders.json': ORDERS_JSON });
    const { watcher } = await open(dir);
    const payments = join(dir, 'payments.yaml');
    try {
      await writeFile(payments, PAYMENTS.replace('8080', 'eighty'));
      await writeFile(join(dir, 'orders.json'), ORDERS_JSON.replace('8081', '8091'));
      const bad = await watcher.rescan();
      assert.deepEqual(bad.errors.map((e) => [e.path, e.error.code, e.error.message]), [
        [payments, 'MERIDIAN_ERR_CONFIG_INVALID', `${payments}: invalid configuration: /ports/http: Expected integer`],
      ]);
      assert.deepEqual(bad.removed, []);
      assert.deepEqual(bad.upserted.map((u) => u.definition.ports), [{ http: 8091 }], 'other files are unaffected');
      const kept = watcher.current().definitions.find((d) => d.path === payments);
      assert.deepEqual(kept?.definition.ports, { http: 8080 });
      assert.equal(watcher.current().errors.length, 1);

      await writeFile(payments, PAYMENTS.replace('8080', '8443'));
      const fixed = await watcher.rescan();
      assert.deepEqual(summary(fixed), { upserted: [`${payments}#0:payments`], removed: [], errors: [] });
      assert.deepEqual(fixed.upserted[0]?.definition.ports, { http: 8443 });
      assert.deepEqual(watcher.current().errors, []);
    } finally {
      await watcher.close();
    }
  });

  it('applies a multi-definition file whole or not at all', async () => {
    const dir = await freshDir({ 'edge.yaml': 'service: edge\nports: {http: 80}\n---\nservice: edge-admin\nports: {admin: 9000}\n' });
    const { watcher } = await open(dir);
    const edge = join(dir, 'edge.yaml');
    try {
      await writeFile(edge, 'service: edge\nports: {http: 8000}\n---\nservice: edge-admin\nports: {admin: 9000}\ncolour: blue\n');
      assert.deepEqual(summary(await watcher.rescan()), {
        upserted: [],
        removed: [],
        errors: [`${edge}[1]: invalid configuration: /colour: Unexpected property`],
      });
      assert.deepEqual(watcher.current().definitions.map((d) => d.definition.ports), [{ http: 80 }, { admin: 9000 }]);
    } finally {
      await watcher.close();
    }
  });

  it('names the file and line of YAML and JSON syntax errors, and rejects duplicate keys', async () => {
    const dir = await freshDir({
      'broken.yaml': 'service: payments\nports:\n  http: 8080\n  admin: [9000\n',
      'dupkey.yaml': 'service: payments\nports: {http: 1}\nservice: orders\n',
      'broken.json': '{\n  "service": "orders",\n  "ports": {"http": 80,}\n}\n',
      'dupkey.json': '{\n  "service": "orders",\n  "ports": {"http": 80},\n  "service": "other"\n}\n',
      'empty.yaml': '',
      'unknown.yaml': 'service: payments\nports: {http: 1}\ncolour: blue\n',
    });
    const { watcher, log } = await open(dir);
    try {
      const errors = Object.fromEntries((log.changes[0]?.errors ?? []).map((e) => [e.path.slice(dir.length + 1), e.error.message]));
      const at = (name: string): string => join(dir, name);
      assert.match(errors['broken.yaml'] ?? '', new RegExp(`^${at('broken.yaml')}: YAML syntax error at line 5, column 1: Flow sequence in block collection must be sufficiently indented`));
      assert.equal(errors['dupkey.yaml'], `${at('dupkey.yaml')}: YAML syntax error at line 3, column 1: Map keys must be unique`);
      assert.equal(errors['broken.json'], `${at('broken.json')}: JSON syntax error at line 3, column 24: Expected double-quoted property name`);
      assert.equal(errors['dupkey.json'], `${at('dupkey.json')}: JSON syntax error at line 4, column 3: Map keys must be unique`);
      assert.equal(errors['empty.yaml'], `${at('empty.yaml')}: invalid configuration: /: holds no service definition`);
      assert.equal(errors['unknown.yaml'], `${at('unknown.yaml')}: invalid configuration: /colour: Unexpected property`);
      assert.equal(Object.keys(errors).length, 6);
      assert.deepEqual(watcher.current().definitions, []);
    } finally {
      await watcher.close();
    }
  });

  it('rejects an instanceId already held by another file, naming both files', async () => {
    const dir = await freshDir({ 'z-payments.yaml': PAYMENTS });
    const { watcher } = await open(dir);
    const holder = join(dir, 'z-payments.yaml');
    const second = join(dir, 'a-copy.yaml');
    try {
      // The holder keeps the instance even though the newcomer sorts first.
      await writeFile(second, `service: orders\nports: {http: 1}\n---\n${PAYMENTS.replace('8080', '9999')}`);
      const clash = await watcher.rescan();
      assert.deepEqual(summary(clash), {
        upserted: [],
        removed: [],
        errors: [`${second}[1]: invalid configuration: /instanceId: "payments-1" is already defined in ${holder}`],
      });
      assert.deepEqual(clash.errors[0]?.path, second);

      // Once the holder lets the instanceId go, the other file is taken whole.
      await unlink(holder);
      assert.deepEqual(summary(await watcher.rescan()), {
        upserted: [`${second}#0:orders`, `${second}#1:payments`],
        removed: [`${holder}#0`],
        errors: [],
      });
    } finally {
      await watcher.close();
    }
  });
});

describe('definitions directory: triggers and scheduling', () => {
  it('rescans on SIGHUP and removes its listener on close', async () => {
    const baseline = process.listenerCount('SIGHUP');
    const dir = await freshDir({ 'payments.yaml': PAYMENTS });
    const { watcher, log } = await open(dir);
    const orders = join(dir, 'orders.json');
    try {
      assert.equal(process.listenerCount('SIGHUP'), baseline + 1, 'the watcher listens before a signal is sent');
      await writeFile(orders, ORDERS_JSON);
      const seen = log.waitFor((c) => c.upserted.some((u) => u.path === orders), 2000);
      process.kill(process.pid, 'SIGHUP');
      await seen;
    } finally {
      await watcher.close();
    }
    assert.equal(process.listenerCount('SIGHUP'), baseline);
    await assert.rejects(watcher.rescan(), /is closed/);
  });

  it('never runs two scans at once; requests made during a scan share one more', async () => {
    const dir = await freshDir();
    const [entered, release] = [signal(), signal()];
    const stats = { calls: 0, active: 0, maxActive: 0 };
    const onChange = async (): Promise<void> => {
      stats.calls += 1;
      stats.maxActive = Math.max(stats.maxActive, ++stats.active);
      // The first rescan (after the initial scan) holds on until the test has made more requests.
      if (stats.calls === 2) entered.fire();
      if (stats.calls === 2) await release.promise;
      stats.active -= 1;
    };
    const watcher = await watchDefinitionsDir({ dir, debounceMs: NO_WATCH_DEBOUNCE, onChange });
    try {
      await writeFile(join(dir, 'one.yaml'), 'service: one\nports: {http: 1}\n');
      const first = watcher.rescan();
      await entered.promise;
      await writeFile(join(dir, 'two.yaml'), 'service: two\nports: {http: 2}\n');
      const second = watcher.rescan();
      const third = watcher.rescan();
      release.fire();
      const [c1, c2, c3] = await Promise.all([first, second, third]);
      assert.equal(stats.maxActive, 1);
      assert.deepEqual(c1.upserted.map((u) => u.definition.service), ['one']);
      assert.deepEqual(c2.upserted.map((u) => u.definition.service), ['two']);
      assert.equal(c3, c2, 'requests made during a scan share the next one');
    } finally {
      await watcher.close();
    }
  });

  it('reports a change again when onChange failed to take it', async () => {
    const dir = await freshDir();
    let fail = false;
    const watcher = await watchDefinitionsDir({
      dir,
      debounceMs: NO_WATCH_DEBOUNCE,
      onChange: () => {
        if (fail) throw new Error('registry unavailable');
      },
    });
    try {
      await writeFile(join(dir, 'one.yaml'), 'service: one\nports: {http: 1}\n');
      fail = true;
      await assert.rejects(watcher.rescan(), /registry unavailable/);
      assert.deepEqual(watcher.current().definitions, []);
      fail = false;
      assert.deepEqual((await watcher.rescan()).upserted.map((u) => u.definition.service), ['one']);
    } finally {
      await watcher.close();
    }
  });

  it('reports a vanished directory without removing anything', async () => {
    const dir = await freshDir({ 'payments.yaml': PAYMENTS });
    const { watcher } = await open(dir);
    try {
      await rm(dir, { recursive: true });
      const change = await watcher.rescan();
      assert.deepEqual(summary(change), { upserted: [], removed: [], errors: [`definitions directory ${dir}: does not exist`] });
      assert.equal(watcher.current().definitions.length, 1);

      await mkdir(dir);
      await writeFile(join(dir, 'payments.yaml'), PAYMENTS);
      assert.deepEqual(summary(await watcher.rescan()), { upserted: [], removed: [], errors: [] });
    } finally {
      await watcher.close();
    }
  });
});
