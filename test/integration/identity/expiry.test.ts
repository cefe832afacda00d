import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { startAgent, type AgentConfig, type RunningAgent } from '../../../agent/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { openStatusBucket, statusKey, type AgentStatus } from '../../../shared/status/index.js';
import { eventually } from '../../support/harness.js';
import { captureLogger, useSecureSite, type LogLine, type SecureSite } from '../../support/secure-site.js';

const TTL_MS = 3000;
const REJOIN = 'rejoin with `meridian agent join --token <token> --control <host:port>`';
let site: SecureSite;
let config: AgentConfig;
let agent: RunningAgent;
let lines: LogLine[];

before(async () => {
  // No control service: nobody answers the renewal, so the agent's certificate runs out.
  site = await useSecureSite();
  config = { ...site.agentConfig('node-1'), telemetry: { statusInterval: '500ms' } };
  site.pki.issueIdentity(site.site, 'agent', 'node-1', TTL_MS);
  const captured = captureLogger();
  lines = captured.lines;
  agent = await startAgent(config, captured.log);
});

it('an agent whose certificate expires unrenewed logs it once with what to do and reports it in its status', async () => {
  const leaf = agent.identity.current.chain[0] ?? assert.fail('no leaf');
  await new Promise((resolve) => setTimeout(resolve, Date.parse(leaf.validTo) - Date.now() + 2500));
  assert.equal(agent.credentials.renewal.expired(), true);
  const errors = lines.filter((l) => l.level === 'error');
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.ok(errors[0]?.message.startsWith(`agent certificate expired and could not be renewed: ${REJOIN}`), errors[0]?.message);
  assert.ok(lines.some((l) => l.message === 'agent identity renewal failed; retrying'), 'the failures before expiry were warnings');
  const kv = await openStatusBucket(await site.admin(), site.site, 5000);
  await eventually(async () => {
    const record = (await kv.get(statusKey('agent', 'node-1')))?.json<AgentStatus>();
    assert.deepEqual(record?.certificates.find((c) => c.role === 'agent')?.expired, true);
  }, { timeoutMs: 5000 });
  await agent.stop();
});

it('an agent started with an expired certificate fails its start, telling to rejoin with a token', async () => {
  await assert.rejects(startAgent(config, captureLogger().log), (error: unknown) => {
    assert.ok(isMeridianError(error, 'MERIDIAN_ERR_CERT_EXPIRED'), String(error));
    assert.match(error.message, new RegExp(`^${config.nats.certFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the agent certificate expired at \\S+; rejoin with \`meridian agent join --token <token> --control <host:port>\``));
    return true;
  });
});
