/**
 * A catalog snapshot the agent cannot read (empty, truncated, another version, garbage) must not
 * keep it from starting: it is set aside with a warning and the catalog comes from NATS. And a
 * stopping agent's last snapshot must never race the writer's own save.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../../agent/index.js';
import { loadSnapshot } from '../../../shared/catalog/index.js';
import { agentAuthorization } from '../../support/agent-process.js';
import { eventually, fileScope } from '../../support/harness.js';
import { captureLogger, useSecureSite, type SecureSite } from '../../support/secure-site.js';

let site: SecureSite;

interface Row {
  service: string;
  instanceId: string;
  stale: boolean;
}

async function instances(agent: RunningAgent, service: string): Promise<Row[]> {
  const response = await fetch(`${agent.api.url}/v1/instances?service=${service}`, { headers: agentAuthorization(agent) });
  return ((await response.json()) as { instances: Row[] }).instances;
}

before(async () => {
  site = await useSecureSite();
  // Another node of the site keeps `payments` in the catalog, as a live site would.
  const writer = await startAgent(site.agentConfig('writer-1'), captureLogger().log);
  fileScope.after(() => writer.stop());
  await writer.registrar.register({ service: 'payments', instanceId: 'payments-1', ports: { http: 8080 } }, { kind: 'api' });
});

const CORRUPT: ReadonlyArray<{ name: string; bytes: Buffer }> = [
  { name: 'an empty file', bytes: Buffer.alloc(0) },
  { name: 'truncated JSON', bytes: Buffer.from('{"kind":"header","version":2,"savedAt":"2024-05-01T10:00:00.000Z"}\n{"kind":"site","site":"solo","lastHeardAt":17') },
  { name: 'another version', bytes: Buffer.from('{"kind":"header","version":99,"savedAt":"2024-05-01T10:00:00.000Z"}\n') },
  { name: 'binary garbage', bytes: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0xff, 0xfe, 0x0a, 0x00]) },
];

describe('an unreadable catalog snapshot', () => {
  for (const [index, { name, bytes }] of CORRUPT.entries()) {
    it(`(${name}) is set aside with a warning, and the agent starts and serves from NATS`, async () => {
      const config = site.agentConfig(`reader-${index}`);
      mkdirSync(config.dataDir, { recursive: true });
      writeFileSync(join(config.dataDir, 'catalog-snapshot.json'), bytes);
      const capture = captureLogger();
      const agent = await startAgent(config, capture.log);
      try {
        const rows = await eventually(async () => {
          const found = await instances(agent, 'payments');
          assert.equal(found.length, 1, JSON.stringify(found));
          return found;
        });
        assert.equal(rows[0]?.instanceId, 'payments-1');
        assert.equal(rows[0]?.stale, false);
        const aside = readdirSync(config.dataDir).filter((f) => f.startsWith('catalog-snapshot.json.corrupt-'));
        assert.equal(aside.length, 1, readdirSync(config.dataDir).join(', '));
        assert.match(aside[0] ?? '', /^catalog-snapshot\.json\.corrupt-\d{8}T\d{9}Z$/);
        assert.deepEqual(readFileSync(join(config.dataDir, aside[0] ?? '')), bytes);
        const warning = capture.lines.find((l) => l.level === 'warn' && l.message.startsWith('catalog snapshot unreadable'));
        assert.ok(warning, capture.text());
        assert.equal(warning.fields['movedTo'], join(config.dataDir, aside[0] ?? ''));
        assert.match(String(warning.fields['error']), /unreadable catalog snapshot/);
      } finally {
        await agent.stop();
      }
      // The stop left a good snapshot in its place, for the next start.
      assert.ok(loadSnapshot(join(config.dataDir, 'catalog-snapshot.json')).some((s) => s.site === 'solo'));
    });
  }
});

describe("a stopping agent's last snapshot", () => {
  it('never fails, stop after stop, and leaves a readable snapshot', async () => {
    const config = site.agentConfig('restarts-1');
    for (let round = 0; round < 4; round++) {
      const capture = captureLogger();
      const agent = await startAgent(config, capture.log);
      await agent.registrar.register({ service: 'orders', instanceId: `orders-${round}`, ports: { http: 9000 + round } }, { kind: 'api' });
      await eventually(async () => assert.equal((await instances(agent, 'orders')).length, 1));
      await agent.stop();
      assert.deepEqual(capture.lines.filter((l) => /snapshot/.test(l.message)), [], `round ${round}:\n${capture.text()}`);
      const saved = loadSnapshot(join(config.dataDir, 'catalog-snapshot.json'));
      assert.ok(saved.some((s) => s.site === 'solo' && [...s.instances.values()].some((r) => r.instance.service === 'payments')));
      assert.deepEqual(readdirSync(config.dataDir).filter((f) => f.endsWith('.tmp')), []);
    }
  });
});
