import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MeridianError } from '../../../shared/errors/index.js';
import { DASHBOARD_STYLE } from './style.js';

/**
 * The federation dashboard served at `GET /dashboard`: one self-contained HTML document with no
 * data in it. The page reads its token from the URL fragment (`#token=…`, never sent to the
 * server), polls `GET /v1/status` with it every 2 s and draws the sites, the gateway links, the
 * service graph, failovers and certificates. Its browser code is app.ts, compiled by `tsc -p .`
 * next to this module.
 */

/** Where `tsc -p .` emits app.ts: beside this module's own compiled file in dist/. */
export const DASHBOARD_SCRIPT_URL = new URL('./app.js', import.meta.url);

/** The dashboard page and the Content-Security-Policy to serve it with. */
export interface DashboardPage {
  /** The HTML document; the same for every request (the data comes from `/v1/status`). */
  readonly html: string;
  /** Also in the page's meta tag; serve it as the header too. */
  readonly csp: string;
}

const cspHash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/*
 * The script is inlined and pinned by its sha256 hash rather than served as /dashboard/app.js
 * under script-src 'self': a hash admits these exact bytes only, whereas 'self' would run any
 * script-like response this origin might ever serve, and the page stays one request with no
 * second public route. It is a module script because tsc emits `export {};` for a file whose
 * only import is `import type`; modules also run deferred, strict and in their own scope.
 */
function cspFor(script: string): string {
  return [
    "default-src 'none'",
    `script-src ${cspHash(script)}`,
    `style-src ${cspHash(DASHBOARD_STYLE)}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/**
 * The compiled browser code, as the page inlines it: without its source-map comment (the map
 * would resolve against /dashboard), and refused if it could end the script element early or
 * import anything, since nothing but this page is served to the browser.
 */
function readScript(url: URL): string {
  const path = fileURLToPath(url);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `cannot read the dashboard script ${path}: build it with npx tsc -p .`, { cause: error });
  }
  const script = text.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n');
  if (/<\/script|<!--/i.test(script)) {
    throw new MeridianError('MERIDIAN_ERR_INTERNAL', `the dashboard script ${path} contains "</script" or "<!--", which would end its inline element`);
  }
  if (/^\s*import\b(?!\s*\()/m.test(script)) {
    throw new MeridianError('MERIDIAN_ERR_INTERNAL', `the dashboard script ${path} imports a module, which the browser cannot resolve: use import type only`);
  }
  return script;
}

const BODY = `
<header>
  <h1>Meridian federation</h1>
  <span id="health" class="badge" data-healthy="unknown">loading…</span>
  <span id="updated" class="meta">not updated yet</span>
  <span id="answered" class="meta"></span>
</header>
<div id="error" class="banner" role="alert" hidden></div>
<main>
  <h2>Problems</h2>
  <ul id="problems" class="problems"></ul>
  <h2>Sites</h2>
  <div id="sites" class="cards"></div>
  <h2>Gateway links</h2>
  <table>
    <thead><tr><th>From</th><th>To</th><th>Gateway</th><th>State</th><th>RTT</th><th>Last heartbeat</th><th>Since</th><th>Streams</th><th>Bytes in</th><th>Bytes out</th></tr></thead>
    <tbody id="links"></tbody>
  </table>
  <section class="graph-row">
    <div>
      <h2>Service graph</h2>
      <svg id="graph" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="service graph: callers to callees with request rates"></svg>
      <div class="legend"><span class="cross">- - - cross-site</span> (through the gateways' mTLS tunnels) · <span class="local">—— same site</span> · labels: requests per second</div>
    </div>
    <aside>
      <h2>Served from another site</h2>
      <table>
        <thead><tr><th>Service</th><th>From → to</th><th>Reason</th><th>Since</th><th>Reported by</th></tr></thead>
        <tbody id="failovers"></tbody>
      </table>
      <h2>Certificates (soonest expiry)</h2>
      <table>
        <thead><tr><th>Site</th><th>Role</th><th>Expires in</th><th>Identity</th></tr></thead>
        <tbody id="certificates"></tbody>
      </table>
    </aside>
  </section>
</main>`;

const page = (script: string, csp: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<title>Meridian federation status</title>
<style>${DASHBOARD_STYLE}</style>
</head>
<body>${BODY}
<script type="module">${script}</script>
</body>
</html>
`;

/**
 * Reads the compiled browser code (once, when a status API starts) and builds the page around
 * it. Throws MERIDIAN_ERR_FILE_IO naming the file when the build output is missing.
 */
export function loadDashboardPage(scriptUrl: URL = DASHBOARD_SCRIPT_URL): DashboardPage {
  const script = readScript(scriptUrl);
  const csp = cspFor(script);
  return { html: page(script, csp), csp };
}
