import { createHash } from 'node:crypto';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';
import { DASHBOARD_STYLE } from './dashboard-style.js';

/**
 * The federation dashboard served at `GET /dashboard`: one self-contained HTML document with no
 * data in it. The page reads its token from the URL fragment (`#token=…`, never sent to the
 * server), polls `GET /v1/status` with it every 2 s and draws the sites, the gateway links, the
 * service graph, failovers and certificates.
 */

const cspHash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * The page's Content-Security-Policy, also in its meta tag (serve it as the header too). Only
 * this page's own script and style may run, and it may only talk to its own origin: should a
 * catalog name ever reach the DOM as markup, nothing injected could execute or send data away.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${cspHash(DASHBOARD_SCRIPT)}`,
  `style-src ${cspHash(DASHBOARD_STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

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

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${DASHBOARD_CSP}">
<meta name="referrer" content="no-referrer">
<title>Meridian federation status</title>
<style>${DASHBOARD_STYLE}</style>
</head>
<body>${BODY}
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

/**
 * The dashboard's HTML. It is the same for every request (the data comes from `/v1/status`), so
 * the page needs no authentication; serve it as `text/html; charset=utf-8`.
 */
export function dashboardPage(): string {
  return PAGE;
}
