/**
 * The first start of a site's control service, on a NATS where nothing was bootstrapped yet: it
 * creates what it needs and raises no false alarm ("status watch interrupted: stream not found").
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startControlService } from '../../../services/site/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { captureLogger, useSecureSite } from '../../support/secure-site.js';

describe('the first start of a control service', () => {
  it('creates the site buckets before following them: no warning, and its own report is on its board', async () => {
    const site = await useSecureSite({ bootstrap: false });
    const capture = captureLogger();
    const control = await startControlService({ pki: site.pki, site: site.site, natsUrl: site.nats.url, heartbeatMs: 500, status: { intervalMs: 300 }, log: capture.log });
    fileScope.after(() => control.stop());
    await eventually(() => assert.ok(control.status.board.entries().some((e) => e.record.kind === 'control' && e.record.site === site.site)));
    // A few more report and watch cycles, where the false alarm used to show up.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const warnings = capture.lines.filter((l) => l.level !== 'info');
    assert.deepEqual(warnings, [], capture.text());
  });
});
