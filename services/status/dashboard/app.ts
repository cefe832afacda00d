/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard's browser code. `tsc -p .` type-checks it with the DOM library (the reference
 * above) and emits `dist/services/status/dashboard/app.js`, which the status API inlines into
 * the page (see page.ts). It runs in the browser, so it imports nothing at run time: the status
 * document's types come in through `import type`, which vanishes from the emitted JavaScript.
 * (dom-globals.d.ts says what the DOM library changes for the rest of the program.)
 *
 * Every value from the API (site and service names come from the catalog) reaches the DOM
 * through textContent or setAttribute only, never as markup, and the page's CSP only runs this
 * exact script. The token comes from the URL fragment, which browsers never send to the server,
 * and is kept in memory only.
 */
import type { CatalogRow, CertificateRow, FailoverRow, FederationStatus, LinkRow, PolicyRow, Problem, SiteRow, TrafficRow } from '../schema.js';

const POLL_MS = 2000;
const FETCH_TIMEOUT_MS = 5000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const ROLE_ORDER: readonly string[] = ['site-ca', 'gateway', 'agent', 'workload'];

type Attrs = Readonly<Record<string, string | number | boolean>>;
type Child = Node | string;
type Point = readonly [number, number];

/**
 * The page's element with this id. A missing one means page.ts and this script disagree, a
 * programming error: it throws at once, which the browser test reports as a page error.
 */
function byId<T extends Element>(id: string, type: { new (): T; prototype: T }): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new TypeError(`the dashboard page has no #${id} of type ${type.name}`);
  return node;
}

const readToken = (): string | null => new URLSearchParams(location.hash.slice(1)).get('token');
let token = readToken();

/** Sets attributes; `text` becomes a text node, so data can never turn into markup. */
function fill<T extends Element>(node: T, attrs: Attrs, children: readonly Child[]): T {
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  node.append(...children);
  return node;
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, children: readonly Child[] = []): HTMLElementTagNameMap[K] =>
  fill(document.createElement(tag), attrs, children);

const svgEl = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, children: readonly Child[] = []): SVGElementTagNameMap[K] =>
  fill(document.createElementNS(SVG_NS, tag), attrs, children);

function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(1)} s`;
  if (abs < 3_600_000) return `${sign}${Math.round(abs / 60_000)} min`;
  if (abs < 86_400_000) return `${sign}${(abs / 3_600_000).toFixed(1)} h`;
  return `${sign}${(abs / 86_400_000).toFixed(1)} d`;
}

// Ages are measured against the answer's generatedAt, so the browser's clock does not matter.
const ago = (iso: string | null, now: number): string => (iso === null ? 'never' : `${duration(now - Date.parse(iso))} ago`);

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = n;
  let unit = 0;
  for (; value >= 1024 && unit < units.length - 1; unit++) value /= 1024;
  return `${unit === 0 ? String(Math.round(value)) : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
const rate = (rps: number): string => `${rps >= 10 ? rps.toFixed(0) : rps >= 1 ? rps.toFixed(1) : rps.toFixed(2)} req/s`;

/**
 * Cell text that wraps only at its spaces and after a path's slashes: each piece is a nowrap
 * span, so a name such as eu-central-1 or web-node-12 never splits at a hyphen.
 */
function words(text: string): Child[] {
  const parts: Child[] = [];
  for (const piece of text.match(/\s+|[^\s/]*\/+|[^\s/]+/g) ?? []) {
    if (/^\s/.test(piece)) parts.push(' ');
    else parts.push(el('span', { class: 'word', text: piece }), ...(piece.endsWith('/') ? [el('wbr')] : []));
  }
  return parts;
}

/** A table's placeholder row when it has nothing to show. */
const emptyRow = (columns: number, text: string): HTMLTableRowElement => el('tr', {}, [el('td', { colspan: columns, class: 'none', text })]);

function renderHealth(status: FederationStatus): void {
  const health = byId('health', HTMLElement);
  health.textContent = status.healthy ? 'healthy' : 'unhealthy';
  health.className = `badge ${status.healthy ? 'healthy' : 'unhealthy'}`;
  health.dataset.healthy = String(status.healthy);
  byId('answered', HTMLElement).textContent = `answered by ${status.answeredBy} at ${new Date(status.generatedAt).toLocaleTimeString()}`;
}

function renderProblems(problems: readonly Problem[]): void {
  const items = problems.map((p) =>
    el('li', { class: p.severity }, [el('span', { class: 'sev', text: p.severity }), el('strong', { text: p.site }), ` ${p.component}: ${p.message}`]),
  );
  byId('problems', HTMLElement).replaceChildren(...(items.length > 0 ? items : [el('li', { class: 'none', text: 'no problems reported' })]));
}

function fact(dl: HTMLDListElement, label: string, value: string, cls = ''): void {
  dl.append(el('dt', { text: label }), el('dd', cls === '' ? {} : { class: cls }, [value]));
}

function catalogFacts(dl: HTMLDListElement, row: CatalogRow | undefined): void {
  if (row === undefined) {
    fact(dl, 'catalog', 'no data', 'bad');
    return;
  }
  fact(dl, 'catalog', `${plural(row.services, 'service')}, ${plural(row.instances, 'instance')} (${row.passing} passing)`);
  fact(dl, 'catalog age', (row.stale ? 'stale, ' : 'fresh, ') + (row.ageMs === null ? 'nothing yet' : duration(row.ageMs)), row.stale ? 'bad' : '');
  const lags = row.syncLag.map((l) => `${l.observer}: ${l.lagMs === null ? 'never' : duration(l.lagMs)}${l.stale ? ' (stale)' : ''}`);
  fact(dl, 'sync lag', lags.length > 0 ? lags.join(', ') : '–', row.syncLag.some((l) => l.stale) ? 'bad' : '');
}

/** The site's policy: versions enforced, whether it is on the newest, what it refused, permissive services, revocations. */
function policyFacts(dl: HTMLDListElement, row: PolicyRow | undefined): void {
  if (row === undefined) return;
  const versions = row.versions.map((v) => `${v.version === null ? 'none published' : `v${v.version}`} ×${v.reporters}`).join(', ') || '–';
  const lag = row.lagging ? `, lagging v${row.newest ?? ''}${row.laggingForMs === null ? '' : ` for ${duration(row.laggingForMs)}`}` : '';
  fact(dl, 'policy', versions + lag, row.lagging ? 'bad' : '');
  if (row.rejections.length > 0) fact(dl, 'policy refused', row.rejections.map((r) => `v${r.version} (${r.reporters.join(', ')}): ${r.reason}`).join('; '), 'bad');
  if (row.permissiveServices.length > 0) fact(dl, 'mTLS permissive', row.permissiveServices.join(', '), 'warn');
  fact(dl, 'revocations', row.revocations === null ? '–' : String(row.revocations));
  fact(dl, 'refused calls', String(row.refusedCalls), row.refusedCalls > 0 ? 'bad' : '');
}

function siteCard(site: SiteRow, status: FederationStatus): HTMLDivElement {
  const dl = el('dl');
  fact(dl, 'region', site.region);
  fact(dl, 'platform', site.platform);
  const age = site.lastReportAgeMs === null ? 'never reported' : `reported ${duration(site.lastReportAgeMs)} ago`;
  fact(dl, 'reachable', (site.reachable ? 'yes, ' : 'NO, ') + age, site.reachable ? 'good' : 'bad');
  fact(dl, 'agents', `${site.agents.up}/${site.agents.total} up`, site.agents.up < site.agents.total ? 'bad' : '');
  fact(dl, 'gateways', `${site.gateways.up}/${site.gateways.total} up`, site.gateways.up < site.gateways.total ? 'bad' : '');
  catalogFacts(dl, status.catalog.find((c) => c.site === site.site));
  policyFacts(dl, status.policy.find((p) => p.site === site.site));
  return el('div', { class: `card${site.reachable ? '' : ' unreachable'}`, 'data-site': site.site }, [el('h3', { text: site.site }), dl]);
}

function renderSites(status: FederationStatus): void {
  const cards = status.sites.map((site) => siteCard(site, status));
  byId('sites', HTMLElement).replaceChildren(...(cards.length > 0 ? cards : [el('p', { class: 'none', text: 'no site has reported yet' })]));
}

function linkRow(link: LinkRow, now: number): HTMLTableRowElement {
  const state = el('td', { class: 'state-cell' }, [el('span', { class: `state ${link.state}`, text: link.state })]);
  if (link.lastError !== null && link.lastError !== '') state.append(el('span', { class: 'err-text' }, words(link.lastError)));
  const num = (text: string, cls = ''): HTMLTableCellElement => el('td', { class: `num${cls === '' ? '' : ` ${cls}`}`, text });
  return el('tr', { 'data-link': `${link.fromSite}->${link.toSite}`, 'data-state': link.state }, [
    ...[link.fromSite, link.toSite, link.gateway].map((text) => el('td', { text })),
    state,
    num(link.rttMs === null ? '–' : `${link.rttMs.toFixed(1)} ms`, 'rtt'),
    ...[ago(link.lastHeartbeat, now), duration(now - Date.parse(link.since)), String(link.streams), bytes(link.bytesIn), bytes(link.bytesOut)].map((text) => num(text)),
  ]);
}

function renderLinks(links: readonly LinkRow[], now: number): void {
  const rows = [...links].sort((a, b) => (a.fromSite + a.toSite).localeCompare(b.fromSite + b.toSite)).map((l) => linkRow(l, now));
  byId('links', HTMLElement).replaceChildren(...(rows.length > 0 ? rows : [emptyRow(10, 'no gateway link reported')]));
}

/** The route stays on one line; what kind of failover it is may go to the next. */
function failoverRoute(f: FailoverRow): HTMLTableCellElement {
  return el('td', { class: 'route' }, [
    el('span', { class: 'nowrap', text: `${f.fromSite} → ${f.toSite}` }),
    ' ',
    el('span', { class: f.degraded ? 'kind bad' : 'kind', text: f.degraded ? '(FAILOVER)' : '(runs elsewhere)' }),
  ]);
}

function renderFailovers(failovers: readonly FailoverRow[], now: number): void {
  const rows = failovers.map((f) =>
    el('tr', { 'data-failover': `${f.service}:${f.fromSite}->${f.toSite}` }, [
      el('td', { text: f.service }),
      failoverRoute(f),
      el('td', { class: 'wrap reason' }, words(f.reason)),
      el('td', { class: 'num', text: duration(now - Date.parse(f.since)) }),
      el('td', { class: 'wrap' }, words(f.reportedBy.join(', '))),
    ]),
  );
  byId('failovers', HTMLElement).replaceChildren(...(rows.length > 0 ? rows : [emptyRow(5, 'none: every service is served from its own site')]));
}

function renderCertificates(certs: readonly CertificateRow[]): void {
  const sorted = [...certs].sort((a, b) => a.site.localeCompare(b.site) || ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role));
  const rows = sorted.map((c) =>
    el('tr', { title: `${c.identity} (not after ${c.notAfter})` }, [
      el('td', { text: c.site }),
      el('td', { text: c.role }),
      el('td', { class: `num${c.expiresInMs <= 0 ? ' bad' : ''}`, text: c.expiresInMs <= 0 ? 'expired' : duration(c.expiresInMs) }),
      el('td', { class: 'wrap' }, words(c.identity)),
    ]),
  );
  byId('certificates', HTMLElement).replaceChildren(...(rows.length > 0 ? rows : [emptyRow(4, 'no certificate reported')]));
}

// ---- service graph: one column per site, a node per service seen in traffic ----
const G = { margin: 20, colW: 200, colGap: 90, title: 84, nodeW: 140, nodeH: 30, rowGap: 70 } as const;

interface GraphNode {
  readonly service: string;
  readonly site: string;
  readonly col: number;
  readonly x: number;
  readonly y: number;
  readonly cx: number;
  readonly cy: number;
}

interface GraphModel {
  readonly columns: readonly string[];
  readonly nodes: ReadonlyMap<string, GraphNode>;
  readonly width: number;
  readonly height: number;
}

function graphModel(status: FederationStatus): GraphModel {
  const columns = status.sites.map((s) => s.site);
  const services = new Map<string, Set<string>>(columns.map((s) => [s, new Set<string>()]));
  const add = (site: string, service: string): void => {
    let set = services.get(site);
    if (set === undefined) {
      set = new Set<string>();
      services.set(site, set);
      columns.push(site);
    }
    set.add(service);
  };
  for (const t of status.traffic) {
    add(t.fromSite, t.fromService);
    add(t.toSite, t.toService);
  }
  const nodes = new Map<string, GraphNode>();
  columns.forEach((site, col) => {
    [...(services.get(site) ?? [])].sort().forEach((service, row) => {
      const x = G.margin + col * (G.colW + G.colGap) + (G.colW - G.nodeW) / 2;
      const y = G.margin + G.title + row * (G.nodeH + G.rowGap);
      nodes.set(`${service}@${site}`, { service, site, col, x, y, cx: x + G.nodeW / 2, cy: y + G.nodeH / 2 });
    });
  });
  const rows = Math.max(1, ...[...services.values()].map((s) => s.size));
  const width = G.margin * 2 + Math.max(1, columns.length) * (G.colW + G.colGap) - G.colGap;
  return { columns, nodes, width, height: G.margin * 2 + G.title + rows * (G.nodeH + G.rowGap) };
}

/**
 * A quadratic curve: cross-column edges bow to the left of their direction (so A→B and B→A do
 * not overlap) and further the more columns they jump over; same-site ones bow outside.
 */
function edgeCurve(a: GraphNode, b: GraphNode): { p0: Point; c: Point; p2: Point } {
  if (a.col === b.col) {
    const x = a.x + G.nodeW;
    const p0: Point = [x, a.cy - (a === b ? 8 : 0)];
    const p2: Point = [x, b.cy + (a === b ? 8 : 0)];
    return { p0, c: [x + 45 + Math.abs(b.cy - a.cy) / 4, (p0[1] + p2[1]) / 2], p2 };
  }
  const right = b.col > a.col;
  const p0: Point = [right ? a.x + G.nodeW : a.x, a.cy];
  const p2: Point = [right ? b.x : b.x + G.nodeW, b.cy];
  const dx = p2[0] - p0[0];
  const dy = p2[1] - p0[1];
  const len = Math.hypot(dx, dy) || 1;
  const bend = 34 + 62 * (Math.abs(b.col - a.col) - 1);
  return { p0, c: [(p0[0] + p2[0]) / 2 + (dy / len) * bend, (p0[1] + p2[1]) / 2 - (dx / len) * bend], p2 };
}

function edgeGroup(t: TrafficRow, model: GraphModel): SVGGElement | null {
  const a = model.nodes.get(`${t.fromService}@${t.fromSite}`);
  const b = model.nodes.get(`${t.toService}@${t.toSite}`);
  if (a === undefined || b === undefined) return null;
  const cross = t.fromSite !== t.toSite;
  const kind = cross ? 'cross' : 'local';
  const { p0, c, p2 } = edgeCurve(a, b);
  const mid: Point = [0.25 * p0[0] + 0.5 * c[0] + 0.25 * p2[0], 0.25 * p0[1] + 0.5 * c[1] + 0.25 * p2[1]];
  const from = `${t.fromService}@${t.fromSite}`;
  const to = `${t.toService}@${t.toSite}`;
  const summary = `${from} → ${to}${cross ? ' (cross-site)' : ' (same site)'}: ${rate(t.rps)}, ${t.requests} requests, ${t.errors} errors`;
  return svgEl('g', { class: `edge ${kind}`, 'data-edge': `${from}->${to}`, 'data-rps': t.rps, 'data-cross': cross }, [
    svgEl('title', { text: summary }),
    svgEl('path', { d: `M${p0.join(',')} Q${c.join(',')} ${p2.join(',')}`, 'marker-end': `url(#arrow-${kind})` }),
    svgEl('text', { x: mid[0], y: mid[1] - 4, 'text-anchor': 'middle', class: 'rate', text: rate(t.rps) + (t.errors > 0 ? ` · ${t.errors} err` : '') }),
  ]);
}

function arrowMarker(id: string, colour: string): SVGMarkerElement {
  return svgEl('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, [
    svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: colour }),
  ]);
}

function renderGraph(status: FederationStatus): void {
  const model = graphModel(status);
  const svg = byId('graph', SVGSVGElement);
  svg.setAttribute('viewBox', `0 0 ${model.width} ${model.height}`);
  svg.setAttribute('width', String(model.width));
  const parts: SVGElement[] = [svgEl('defs', {}, [arrowMarker('arrow-cross', '#1f6feb'), arrowMarker('arrow-local', '#6e7781')])];
  model.columns.forEach((site, col) => {
    const x = G.margin + col * (G.colW + G.colGap);
    parts.push(
      svgEl('g', { 'data-column': site }, [
        svgEl('rect', { class: 'column', x, y: G.margin, width: G.colW, height: model.height - 2 * G.margin, rx: 8 }),
        svgEl('text', { class: 'column-title', x: x + G.colW / 2, y: G.margin + 20, 'text-anchor': 'middle', text: site }),
      ]),
    );
  });
  for (const node of model.nodes.values()) {
    parts.push(
      svgEl('g', { class: 'node', 'data-node': `${node.service}@${node.site}` }, [
        svgEl('rect', { x: node.x, y: node.y, width: G.nodeW, height: G.nodeH, rx: 6 }),
        svgEl('text', { x: node.cx, y: node.cy + 4, 'text-anchor': 'middle', text: node.service }),
      ]),
    );
  }
  for (const t of status.traffic) {
    const edge = edgeGroup(t, model);
    if (edge !== null) parts.push(edge);
  }
  if (status.traffic.length === 0) {
    parts.push(svgEl('text', { x: G.margin + 10, y: model.height - G.margin - 10, class: 'column-title', text: 'no traffic measured yet' }));
  }
  svg.replaceChildren(...parts);
}

function render(status: FederationStatus): void {
  const now = Date.parse(status.generatedAt);
  renderHealth(status);
  renderProblems(status.problems);
  renderSites(status);
  renderLinks(status.links, now);
  renderGraph(status);
  renderFailovers(status.failovers, now);
  renderCertificates(status.certificates);
}

function showError(message: string): void {
  const banner = byId('error', HTMLElement);
  banner.textContent = message;
  banner.hidden = false;
  document.body.classList.add('stale');
  // Last known health would be misleading while the API does not answer.
  const health = byId('health', HTMLElement);
  health.textContent = 'unknown';
  health.className = 'badge';
  health.dataset.healthy = 'unknown';
}

function clearError(): void {
  byId('error', HTMLElement).hidden = true;
  document.body.classList.remove('stale');
}

async function describeFailure(res: Response): Promise<string> {
  let message = '';
  try {
    const body: unknown = await res.json();
    if (typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string') message = `: ${body.message}`;
  } catch {
    // Not JSON: the status line says enough.
  }
  if (res.status === 401) return `401 Unauthorized${message} (the #token= in the URL is missing or wrong; use the URL the demo printed)`;
  return `HTTP ${res.status}${message}`;
}

function describeError(error: unknown): string {
  if (error instanceof DOMException && error.name === 'AbortError') return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`;
  return error instanceof Error ? error.message : String(error);
}

async function poll(): Promise<void> {
  if (token === null || token === '') {
    showError('No token: open the dashboard with the URL the demo printed (…/dashboard#token=…)');
    return;
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
    const res = await fetch('/v1/status', { headers, cache: 'no-store', signal: abort.signal });
    if (!res.ok) {
      showError(await describeFailure(res));
      return;
    }
    render((await res.json()) as FederationStatus);
    clearError();
    const updated = byId('updated', HTMLElement);
    updated.textContent = `last updated ${new Date().toLocaleTimeString()}`;
    updated.dataset.at = new Date().toISOString();
  } catch (error) {
    showError(`Status API unreachable: ${describeError(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

// One poll at a time: the next starts 2 s after the previous one settled, so a slow API never piles up requests.
const loop = (): void => {
  void poll().finally(() => setTimeout(loop, POLL_MS));
};
window.addEventListener('hashchange', () => {
  token = readToken();
});
loop();
