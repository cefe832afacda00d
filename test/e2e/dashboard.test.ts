import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { DEMO_SITES } from '../../dev/demo/topology.js';
import type { FederationStatus } from '../../services/status/schema.js';
import { launchBrowser, type BrowserHandle } from '../support/browser.js';
import { eventually, isAlive } from '../support/harness.js';

const DEMO = fileURLToPath(new URL('../../dev/demo/main.js', import.meta.url));
/** Three sites, a supercluster that elects its JetStream leader after ~8 s, then the first calls. */
const DEMO_START_TIMEOUT_MS = 90_000;
const DEMO_STOP_TIMEOUT_MS = 30_000;
/** The page polls every 2 s and the traffic meter needs a snapshot with calls in it. */
const LIVE_TIMEOUT_MS = 20_000;
const SITE_NAMES = DEMO_SITES.map((site) => site.name).sort();

type Demo = ChildProcessByStdio<null, Readable, Readable>;

/** Resolves with the first match of `pattern` in the demo's output; fails if the demo exits first. */
function waitForOutput(demo: Demo, output: () => string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = pattern.exec(output());
      if (match !== null) finish(() => resolve(match));
    };
    const exited = (code: number | null): void => finish(() => reject(new Error(`the demo exited (${code}) before printing ${pattern}:\n${output()}`)));
    const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} from the demo within ${timeoutMs} ms:\n${output()}`))), timeoutMs);
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      demo.stdout.off('data', check);
      demo.off('exit', exited);
      settle();
    };
    demo.stdout.on('data', check);
    demo.once('exit', exited);
    check();
  });
}

/** SIGINT, as Ctrl-C would; the exit code, or an error if the demo is still running after the bound. */
async function stopDemo(demo: Demo): Promise<number | null> {
  if (demo.exitCode !== null || demo.signalCode !== null) return demo.exitCode;
  const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
  demo.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the demo did not stop within ${DEMO_STOP_TIMEOUT_MS} ms of SIGINT`)), DEMO_STOP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function attributes(page: Page, selector: string, name: string): Promise<string[]> {
  const values = await Promise.all((await page.locator(selector).all()).map((element) => element.getAttribute(name)));
  return values.map((value) => value ?? '');
}

/** What the demo's own status API answers, to compare the page with (nothing is hard-coded). */
async function apiStatus(dashboardUrl: string): Promise<FederationStatus> {
  const url = new URL(dashboardUrl);
  const token = new URLSearchParams(url.hash.slice(1)).get('token') ?? '';
  const response = await fetch(new URL('/v1/status', url), { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  return (await response.json()) as FederationStatus;
}

describe('the dashboard of the running demo, in headless Chromium', () => {
  let demo: Demo | undefined;
  let output = '';
  let dashboardUrl = '';
  let browser: BrowserHandle | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const shots = mkdtempSync(join(tmpdir(), 'meridian-dashboard-'));

  before(async () => {
    demo = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const match = await waitForOutput(demo, () => output, /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/dashboard#token=\S+)$/m, DEMO_START_TIMEOUT_MS);
    dashboardUrl = match[1] ?? '';
    browser = await launchBrowser();
    page = await browser.newPage();
    // A CSP refusal or a script error shows up here, not as a failed assertion about content.
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  after(async () => {
    await browser?.close();
    rmSync(shots, { recursive: true, force: true });
    // Only when a test failed before the last one stopped it. SIGKILL would orphan the demo's
    // servers, so it is the last resort for a demo that ignores SIGINT.
    if (demo !== undefined && isAlive(demo.pid ?? -1)) {
      await stopDemo(demo).catch((error: unknown) => {
        demo?.kill('SIGKILL');
        throw error;
      });
    }
  });

  it('loads and shows a card for every site of the demo, with its region and platform', async () => {
    const response = await page.goto(dashboardUrl);
    assert.equal(response?.status(), 200);
    await eventually(async () => assert.deepEqual((await attributes(page, '[data-site]', 'data-site')).sort(), SITE_NAMES), { timeoutMs: LIVE_TIMEOUT_MS });
    for (const site of DEMO_SITES) {
      const card = await page.locator(`[data-site="${site.name}"]`).innerText();
      assert.match(card, new RegExp(`region\\s+${site.region}`));
      assert.match(card, new RegExp(`platform\\s+${site.platform}`));
      assert.match(card, /reachable\s+yes/);
    }
    assert.match(await page.locator('#updated').innerText(), /last updated/);
  });

  it('shows every gateway link the API reports, up, with a round-trip time', async () => {
    const expected = (await apiStatus(dashboardUrl)).links.map((link) => `${link.fromSite}->${link.toSite}`).sort();
    assert.ok(expected.length > 0, 'the demo reports gateway links');
    await eventually(async () => {
      assert.deepEqual((await attributes(page, '[data-link]', 'data-link')).sort(), expected);
      for (const row of await page.locator('[data-link]').all()) {
        assert.equal(await row.getAttribute('data-state'), 'up');
        assert.match(await row.locator('td.rtt').innerText(), /^\d+(\.\d+)? ms$/);
      }
    }, { timeoutMs: LIVE_TIMEOUT_MS });
  });

  it('says the federation is healthy', async () => {
    await eventually(async () => assert.equal(await page.locator('#health').innerText(), 'healthy'), { timeoutMs: LIVE_TIMEOUT_MS });
    assert.equal(await page.locator('#error').isVisible(), false);
  });

  it('draws a cross-site edge with a request rate once traffic flows', async () => {
    const edge = await eventually(async () => {
      for (const element of await page.locator('[data-edge][data-cross="true"]').all()) {
        if (Number(await element.getAttribute('data-rps')) > 0) return element;
      }
      return assert.fail('no cross-site edge with a request rate above 0 yet');
    }, { timeoutMs: LIVE_TIMEOUT_MS, intervalMs: 500 });
    const [, fromSite, toSite] = /^[^@]+@([^>]+)->[^@]+@(.+)$/.exec((await edge.getAttribute('data-edge')) ?? '') ?? [];
    assert.ok(fromSite !== undefined && toSite !== undefined && fromSite !== toSite, 'a cross-site edge joins two sites');
    assert.ok(SITE_NAMES.includes(fromSite) && SITE_NAMES.includes(toSite));
    assert.match(await edge.locator('text.rate').textContent() ?? '', /^\d+(\.\d+)? req\/s/);
  });

  it('takes a non-empty PNG screenshot', async () => {
    const file = join(shots, 'dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 0);
    assert.deepEqual([...readFileSync(file).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
    const keep = process.env.MERIDIAN_SCREENSHOT_DIR;
    if (keep !== undefined && keep !== '') {
      mkdirSync(keep, { recursive: true });
      copyFileSync(file, join(keep, 'dashboard.png'));
      assert.ok(statSync(join(keep, 'dashboard.png')).size > 0);
    }
    assert.deepEqual(pageErrors, [], 'no script error or CSP refusal on the page');
  });

  it('shows a 401 error banner for a wrong token', async () => {
    const wrong = new URL(dashboardUrl);
    wrong.hash = 'token=not-the-token';
    const other = await (browser ?? assert.fail('no browser')).newPage();
    await other.goto(wrong.href);
    await eventually(async () => {
      assert.equal(await other.locator('#error').isVisible(), true);
      assert.match(await other.locator('#error').innerText(), /401/);
    }, { timeoutMs: LIVE_TIMEOUT_MS });
    assert.notEqual(await other.locator('#health').innerText(), 'healthy');
    assert.equal(await other.locator('[data-site]').count(), 0, 'no data without the token');
    await other.context().close();
  });

  it('stops the demo on SIGINT, exiting 0', async () => {
    const running = demo ?? assert.fail('no demo');
    assert.equal(await stopDemo(running), 0, output);
    assert.equal(isAlive(running.pid ?? -1), false);
  });
});
