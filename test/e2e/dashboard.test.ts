/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// measureLayout runs in the browser: the DOM types above are for it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { DEMO_SITES } from '../../dev/demo/topology.js';
import { DASHBOARD_SCRIPT_URL, loadDashboardPage } from '../../services/status/dashboard/page.js';
import type { FederationStatus } from '../../services/status/schema.js';
import { MeridianError } from '../../shared/errors/index.js';
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

const sha256 = (text: string): string => `sha256-${createHash('sha256').update(text).digest('base64')}`;
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A small laptop, the 1400 px the layout once broke at, and a full-HD screen. */
const LAYOUT_WIDTHS = [1024, 1400, 1920] as const;

/** What {@link measureLayout} finds on the page. */
interface LayoutReport {
  readonly scrollWidth: number;
  readonly clientWidth: number;
  /** Tables, cells and the graph wider than the box that holds them. */
  readonly overflowing: string[];
  /** Words split over two lines, or wider than their cell. */
  readonly brokenWords: string[];
  /** The most lines any failover reason takes. */
  readonly reasonLines: number;
  readonly failoverRows: number;
  readonly certificateRows: number;
}

/**
 * Runs in the page. A word is a run without spaces, cut after slashes (the page lets a SPIFFE
 * ID or site/node wrap there); a Range over a word has one client rect per line it lies on.
 */
function measureLayout(): LayoutReport {
  const where = (node: Element): string => `#${node.closest('tbody, table, svg')?.id ?? '?'} "${(node.textContent ?? '').slice(0, 60)}"`;
  const overflowing: string[] = [];
  const brokenWords: string[] = [];
  for (const box of document.querySelectorAll('table, svg#graph')) {
    const outer = box.parentElement?.getBoundingClientRect();
    if (outer !== undefined && box.getBoundingClientRect().right > outer.right + 0.5) overflowing.push(`${box.tagName} in ${box.parentElement?.tagName ?? '?'}`);
  }
  for (const cell of document.querySelectorAll('td')) {
    if (cell.scrollWidth > cell.clientWidth) overflowing.push(`cell ${where(cell)}`);
    const right = cell.getBoundingClientRect().right - parseFloat(getComputedStyle(cell).paddingRight);
    const texts = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let text = texts.nextNode(); text !== null; text = texts.nextNode()) {
      for (const word of (text.textContent ?? '').matchAll(/[^\s/]*\/+|[^\s/]+/g)) {
        const range = document.createRange();
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        const rects = [...range.getClientRects()];
        if (rects.length !== 1 || (rects[0]?.right ?? 0) > right + 0.5) brokenWords.push(`"${word[0]}" in ${rects.length} pieces, ${where(cell)}`);
      }
    }
  }
  const reasonLines = [...document.querySelectorAll('td.reason')].map((cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
  });
  return {
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    overflowing,
    brokenWords,
    reasonLines: Math.max(0, ...reasonLines),
    failoverRows: document.querySelectorAll('#failovers tr[data-failover]').length,
    certificateRows: document.querySelectorAll('#certificates tr').length,
  };
}

describe('the dashboard page, built from the compiled browser code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-dashboard-page-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const scriptFile = (name: string, text: string): URL => {
    writeFileSync(join(dir, name), text);
    return pathToFileURL(join(dir, name));
  };

  it('refuses to start without the compiled script, naming the file and the build command', () => {
    const missing = pathToFileURL(join(dir, 'missing', 'app.js'));
    assert.throws(() => loadDashboardPage(missing), (error: unknown) => {
      assert.ok(error instanceof MeridianError);
      assert.equal(error.code, 'MERIDIAN_ERR_FILE_IO');
      assert.equal(error.message, `cannot read the dashboard script ${join(dir, 'missing', 'app.js')}: build it with npx tsc -p .`);
      assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOENT');
      return true;
    });
  });

  it('refuses a script the browser could not run inline: a module import, or text that ends its element', () => {
    const cases = [
      ['imports.js', "import { x } from 'some-package';\nconsole.log(x);\n", 'imports a module, which the browser cannot resolve: use import type only'],
      ['closes.js', "const s = '</script>';\n", 'contains "</script" or "<!--", which would end its inline element'],
    ] as const;
    for (const [name, text, reason] of cases) {
      assert.throws(() => loadDashboardPage(scriptFile(name, text)), { code: 'MERIDIAN_ERR_INTERNAL', message: `the dashboard script ${join(dir, name)} ${reason}` });
    }
  });

  it('inlines the script without its source-map comment and pins exactly that text', () => {
    const { html, csp } = loadDashboardPage(scriptFile('ok.js', 'document.title = "x";\nexport {};\n//# sourceMappingURL=ok.js.map'));
    assert.ok(html.includes('<script type="module">document.title = "x";\nexport {};\n</script>'));
    assert.match(csp, new RegExp(`script-src '${escapeRegExp(sha256('document.title = "x";\nexport {};\n'))}';`));
  });
});

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
      // The demo publishes no policy set: every reporter of the site on none, nothing lagging or refused.
      assert.match(card, /policy\s+none published ×\d+\n/);
      assert.match(card, /revocations\s+0/);
    }
    assert.match(await page.locator('#updated').innerText(), /last updated/);
  });

  it('shows every gateway link the API reports, up, with a round-trip time', async () => {
    // Gateways probe every other site from the start: all 6 directed pairs of the 3 sites.
    const pairs = SITE_NAMES.flatMap((from) => SITE_NAMES.filter((to) => to !== from).map((to) => `${from}->${to}`)).sort();
    await eventually(async () => {
      const expected = (await apiStatus(dashboardUrl)).links.map((link) => `${link.fromSite}->${link.toSite}`).sort();
      assert.deepEqual(expected, pairs, 'the API reports a link for every pair of sites');
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

  it('serves a page that holds no data, whose CSP pins its one module script (the compiled app.ts) and its style', async () => {
    const response = await fetch(new URL('/dashboard', dashboardUrl));
    assert.equal(response.status, 200);
    const html = await response.text();
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${csp}">`), 'the same CSP in the header and the meta tag');
    const scripts = [...html.matchAll(/<script type="module">([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    assert.equal(scripts.length, 1);
    assert.equal((html.match(/<script/g) ?? []).length, 1, 'no other script element');
    const script = scripts[0] ?? '';
    const compiled = readFileSync(DASHBOARD_SCRIPT_URL, 'utf8');
    assert.equal(script, compiled.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n'), 'the page runs the compiled app.ts');
    assert.doesNotMatch(script, /^\s*import\b/m, 'the browser code imports nothing');
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
    assert.match(csp, new RegExp(`script-src '${escapeRegExp(sha256(script))}';`));
    assert.match(csp, new RegExp(`style-src '${escapeRegExp(sha256(style))}';`));
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(html.replace(script, ''), /\son[a-z]+\s*=/i, 'no inline event handler');
    const token = new URLSearchParams(new URL(dashboardUrl).hash.slice(1)).get('token') ?? '';
    for (const secretOrData of [token, ...SITE_NAMES]) assert.ok(!html.includes(secretOrData), `the page holds no ${secretOrData}`);
  });

  for (const width of LAYOUT_WIDTHS) {
    it(`reads at ${width} px: no horizontal scrollbar, no table cell narrower than its longest word (screenshot)`, async () => {
      const failovers = (await apiStatus(dashboardUrl)).failovers.length;
      assert.ok(failovers > 0, 'the demo serves services from other sites (the widest table)');
      await page.setViewportSize({ width, height: 900 });
      const layout = await eventually(async () => {
        const report = await page.evaluate(measureLayout);
        assert.ok(report.failoverRows > 0 && report.certificateRows > 0, 'failovers and certificates drawn');
        return report;
      }, { timeoutMs: LIVE_TIMEOUT_MS });
      assert.ok(layout.scrollWidth <= layout.clientWidth && layout.clientWidth <= width, `page ${layout.scrollWidth} px wide in a ${layout.clientWidth} px window`);
      assert.deepEqual(layout.overflowing, [], 'nothing wider than its container');
      assert.deepEqual(layout.brokenWords, [], 'no word split over lines or wider than its cell');
      assert.ok(layout.reasonLines <= 3, `a failover reason takes ${layout.reasonLines} lines`);
      const file = join(shots, `dashboard-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      const png = readFileSync(file);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
      assert.equal(png.readUInt32BE(16), width, 'the full-page screenshot is no wider than the window');
      const keep = process.env.MERIDIAN_SCREENSHOT_DIR;
      if (keep !== undefined && keep !== '') {
        mkdirSync(keep, { recursive: true });
        copyFileSync(file, join(keep, `dashboard-${width}.png`));
      }
      assert.deepEqual(pageErrors, [], 'no script error or CSP refusal on the page');
    });
  }

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
