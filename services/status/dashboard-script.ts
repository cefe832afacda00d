/**
 * The dashboard's browser script, inlined into the page. It is plain ES2022 for any modern
 * Chromium: the project's tsconfig has no DOM library, so this file holds it as a string.
 *
 * Every value from the API (site and service names come from the catalog) reaches the DOM
 * through textContent or setAttribute only, never as markup, and the page's CSP only runs this
 * exact script. The token comes from the URL fragment, which browsers never send to the server,
 * and is kept in memory only.
 */
export const DASHBOARD_SCRIPT = String.raw`
'use strict';
(() => {
  const POLL_MS = 2000;
  const FETCH_TIMEOUT_MS = 5000;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const ROLE_ORDER = ['site-ca', 'gateway', 'agent', 'workload'];
  const byId = (id) => document.getElementById(id);
  const readToken = () => new URLSearchParams(location.hash.slice(1)).get('token');
  let token = readToken();

  // Builds an element; strings become text nodes, so data can never turn into markup.
  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === 'text') node.textContent = value;
      else if (key === 'class') node.className = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function svgEl(tag, attrs, children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'text') node.textContent = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function duration(ms) {
    if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
    const abs = Math.abs(ms);
    const sign = ms < 0 ? '-' : '';
    if (abs < 1000) return sign + Math.round(abs) + ' ms';
    if (abs < 60000) return sign + (abs / 1000).toFixed(1) + ' s';
    if (abs < 3600000) return sign + Math.round(abs / 60000) + ' min';
    if (abs < 86400000) return sign + (abs / 3600000).toFixed(1) + ' h';
    return sign + (abs / 86400000).toFixed(1) + ' d';
  }

  // Ages are measured against the answer's generatedAt, so the browser's clock does not matter.
  const ago = (iso, now) => (iso === null ? 'never' : duration(now - Date.parse(iso)) + ' ago');

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = n;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return (unit === 0 ? String(Math.round(value)) : value.toFixed(1)) + ' ' + units[unit];
  }

  const plural = (n, noun) => n + ' ' + noun + (n === 1 ? '' : 's');
  const rate = (rps) => (rps >= 10 ? rps.toFixed(0) : rps >= 1 ? rps.toFixed(1) : rps.toFixed(2)) + ' req/s';

  function renderHealth(status) {
    const health = byId('health');
    health.textContent = status.healthy ? 'healthy' : 'unhealthy';
    health.className = 'badge ' + (status.healthy ? 'healthy' : 'unhealthy');
    health.dataset.healthy = String(status.healthy);
    byId('answered').textContent = 'answered by ' + status.answeredBy + ' at ' + new Date(status.generatedAt).toLocaleTimeString();
  }

  function renderProblems(problems) {
    const items = problems.map((p) => el('li', { class: p.severity }, [
      el('span', { class: 'sev', text: p.severity }), el('strong', { text: p.site }), ' ' + p.component + ': ' + p.message,
    ]));
    byId('problems').replaceChildren(...(items.length > 0 ? items : [el('li', { class: 'none', text: 'no problems reported' })]));
  }

  function fact(dl, label, value, cls) {
    dl.append(el('dt', { text: label }), el('dd', cls ? { class: cls } : {}, [value]));
  }

  function catalogFacts(dl, row) {
    if (!row) { fact(dl, 'catalog', 'no data', 'bad'); return; }
    fact(dl, 'catalog', plural(row.services, 'service') + ', ' + plural(row.instances, 'instance') + ' (' + row.passing + ' passing)');
    fact(dl, 'catalog age', (row.stale ? 'stale, ' : 'fresh, ') + (row.ageMs === null ? 'nothing yet' : duration(row.ageMs)), row.stale ? 'bad' : '');
    const lags = row.syncLag.map((l) => l.observer + ': ' + (l.lagMs === null ? 'never' : duration(l.lagMs)) + (l.stale ? ' (stale)' : ''));
    fact(dl, 'sync lag', lags.length > 0 ? lags.join(', ') : '–', row.syncLag.some((l) => l.stale) ? 'bad' : '');
  }

  function siteCard(site, status) {
    const dl = el('dl');
    fact(dl, 'region', site.region);
    fact(dl, 'platform', site.platform);
    const age = site.lastReportAgeMs === null ? 'never reported' : 'reported ' + duration(site.lastReportAgeMs) + ' ago';
    fact(dl, 'reachable', (site.reachable ? 'yes, ' : 'NO, ') + age, site.reachable ? 'good' : 'bad');
    fact(dl, 'agents', site.agents.up + '/' + site.agents.total + ' up', site.agents.up < site.agents.total ? 'bad' : '');
    fact(dl, 'gateways', site.gateways.up + '/' + site.gateways.total + ' up', site.gateways.up < site.gateways.total ? 'bad' : '');
    catalogFacts(dl, status.catalog.find((c) => c.site === site.site));
    const policy = status.policy.find((p) => p.site === site.site);
    if (policy) {
      fact(dl, 'policy', policy.versions.map((v) => (v.version === null ? 'none published' : v.version) + ' ×' + v.reporters).join(', ') || '–');
      fact(dl, 'rejections', String(policy.rejections), policy.rejections > 0 ? 'bad' : '');
    }
    return el('div', { class: 'card' + (site.reachable ? '' : ' unreachable'), 'data-site': site.site }, [el('h3', { text: site.site }), dl]);
  }

  function renderSites(status) {
    const cards = status.sites.map((site) => siteCard(site, status));
    byId('sites').replaceChildren(...(cards.length > 0 ? cards : [el('p', { class: 'none', text: 'no site has reported yet' })]));
  }

  function linkRow(link, now) {
    const state = el('td', { class: 'state-cell' }, [el('span', { class: 'state ' + link.state, text: link.state })]);
    if (link.lastError) state.append(el('span', { class: 'err-text', text: link.lastError }));
    const num = (text, cls) => el('td', { class: 'num' + (cls ? ' ' + cls : ''), text });
    return el('tr', { 'data-link': link.fromSite + '->' + link.toSite, 'data-state': link.state }, [
      el('td', { text: link.fromSite }), el('td', { text: link.toSite }), el('td', { text: link.gateway }), state,
      num(link.rttMs === null ? '–' : link.rttMs.toFixed(1) + ' ms', 'rtt'),
      num(ago(link.lastHeartbeat, now)), num(duration(now - Date.parse(link.since))),
      num(String(link.streams)), num(bytes(link.bytesIn)), num(bytes(link.bytesOut)),
    ]);
  }

  function renderLinks(links, now) {
    const rows = [...links].sort((a, b) => (a.fromSite + a.toSite).localeCompare(b.fromSite + b.toSite)).map((l) => linkRow(l, now));
    byId('links').replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, [el('td', { colspan: 10, class: 'none', text: 'no gateway link reported' })])]));
  }

  function renderFailovers(failovers, now) {
    const rows = failovers.map((f) => el('tr', {}, [
      el('td', { text: f.service }), el('td', { text: f.fromSite + ' → ' + f.toSite + (f.degraded ? ' (FAILOVER)' : ' (runs elsewhere)') }), el('td', { class: 'wrap', text: f.reason }),
      el('td', { class: 'num', text: duration(now - Date.parse(f.since)) }), el('td', { class: 'wrap', text: f.reportedBy.join(', ') }),
    ]));
    byId('failovers').replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, [el('td', { colspan: 5, class: 'none', text: 'none: every service is served from its own site' })])]));
  }

  function renderCertificates(certs) {
    const sorted = [...certs].sort((a, b) => a.site.localeCompare(b.site) || ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role));
    const rows = sorted.map((c) => el('tr', { title: c.identity + ' (not after ' + c.notAfter + ')' }, [
      el('td', { text: c.site }), el('td', { text: c.role }),
      el('td', { class: 'num' + (c.expiresInMs <= 0 ? ' bad' : ''), text: c.expiresInMs <= 0 ? 'expired' : duration(c.expiresInMs) }), el('td', { class: 'wrap', text: c.identity }),
    ]));
    byId('certificates').replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, [el('td', { colspan: 4, class: 'none', text: 'no certificate reported' })])]));
  }

  // ---- service graph: one column per site, a node per service seen in traffic ----
  const G = { margin: 20, colW: 200, colGap: 90, title: 84, nodeW: 140, nodeH: 30, rowGap: 70 };

  function graphModel(status) {
    const columns = status.sites.map((s) => s.site);
    const services = new Map(columns.map((s) => [s, new Set()]));
    const add = (site, service) => {
      if (!services.has(site)) { services.set(site, new Set()); columns.push(site); }
      services.get(site).add(service);
    };
    for (const t of status.traffic) { add(t.fromSite, t.fromService); add(t.toSite, t.toService); }
    const nodes = new Map();
    columns.forEach((site, col) => {
      [...services.get(site)].sort().forEach((service, row) => {
        const x = G.margin + col * (G.colW + G.colGap) + (G.colW - G.nodeW) / 2;
        const y = G.margin + G.title + row * (G.nodeH + G.rowGap);
        nodes.set(service + '@' + site, { service, site, col, x, y, cx: x + G.nodeW / 2, cy: y + G.nodeH / 2 });
      });
    });
    const rows = Math.max(1, ...[...services.values()].map((s) => s.size));
    return { columns, nodes, width: G.margin * 2 + Math.max(1, columns.length) * (G.colW + G.colGap) - G.colGap, height: G.margin * 2 + G.title + rows * (G.nodeH + G.rowGap) };
  }

  // A quadratic curve: cross-column edges bow to the left of their direction (so A→B and B→A
  // do not overlap) and further the more columns they jump over; same-site ones bow outside.
  function edgeCurve(a, b) {
    if (a.col === b.col) {
      const x = a.x + G.nodeW;
      const p0 = [x, a.cy - (a === b ? 8 : 0)];
      const p2 = [x, b.cy + (a === b ? 8 : 0)];
      return { p0, c: [x + 45 + Math.abs(b.cy - a.cy) / 4, (p0[1] + p2[1]) / 2], p2 };
    }
    const right = b.col > a.col;
    const p0 = [right ? a.x + G.nodeW : a.x, a.cy];
    const p2 = [right ? b.x : b.x + G.nodeW, b.cy];
    const dx = p2[0] - p0[0];
    const dy = p2[1] - p0[1];
    const len = Math.hypot(dx, dy) || 1;
    const bend = 34 + 62 * (Math.abs(b.col - a.col) - 1);
    return { p0, c: [(p0[0] + p2[0]) / 2 + (dy / len) * bend, (p0[1] + p2[1]) / 2 - (dx / len) * bend], p2 };
  }

  function edgeGroup(t, model) {
    const a = model.nodes.get(t.fromService + '@' + t.fromSite);
    const b = model.nodes.get(t.toService + '@' + t.toSite);
    const cross = t.fromSite !== t.toSite;
    const { p0, c, p2 } = edgeCurve(a, b);
    const mid = [0.25 * p0[0] + 0.5 * c[0] + 0.25 * p2[0], 0.25 * p0[1] + 0.5 * c[1] + 0.25 * p2[1]];
    const label = rate(t.rps) + (t.errors > 0 ? ' · ' + t.errors + ' err' : '');
    const summary = t.fromService + '@' + t.fromSite + ' → ' + t.toService + '@' + t.toSite + (cross ? ' (cross-site)' : ' (same site)') + ': ' + rate(t.rps) + ', ' + t.requests + ' requests, ' + t.errors + ' errors';
    return svgEl('g', {
      class: 'edge ' + (cross ? 'cross' : 'local'), 'data-edge': t.fromService + '@' + t.fromSite + '->' + t.toService + '@' + t.toSite,
      'data-rps': t.rps, 'data-cross': cross,
    }, [
      svgEl('title', { text: summary }),
      svgEl('path', { d: 'M' + p0.join(',') + ' Q' + c.join(',') + ' ' + p2.join(','), 'marker-end': 'url(#arrow-' + (cross ? 'cross' : 'local') + ')' }),
      svgEl('text', { x: mid[0], y: mid[1] - 4, 'text-anchor': 'middle', class: 'rate', text: label }),
    ]);
  }

  function arrowMarker(id, colour) {
    return svgEl('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, [
      svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: colour }),
    ]);
  }

  function renderGraph(status) {
    const model = graphModel(status);
    const svg = byId('graph');
    svg.setAttribute('viewBox', '0 0 ' + model.width + ' ' + model.height);
    svg.setAttribute('width', String(model.width));
    const parts = [svgEl('defs', {}, [arrowMarker('arrow-cross', '#1f6feb'), arrowMarker('arrow-local', '#6e7781')])];
    model.columns.forEach((site, col) => {
      const x = G.margin + col * (G.colW + G.colGap);
      parts.push(svgEl('g', { 'data-column': site }, [
        svgEl('rect', { class: 'column', x, y: G.margin, width: G.colW, height: model.height - 2 * G.margin, rx: 8 }),
        svgEl('text', { class: 'column-title', x: x + G.colW / 2, y: G.margin + 20, 'text-anchor': 'middle', text: site }),
      ]));
    });
    for (const node of model.nodes.values()) {
      parts.push(svgEl('g', { class: 'node', 'data-node': node.service + '@' + node.site }, [
        svgEl('rect', { x: node.x, y: node.y, width: G.nodeW, height: G.nodeH, rx: 6 }),
        svgEl('text', { x: node.cx, y: node.cy + 4, 'text-anchor': 'middle', text: node.service }),
      ]));
    }
    for (const t of status.traffic) parts.push(edgeGroup(t, model));
    if (status.traffic.length === 0) parts.push(svgEl('text', { x: G.margin + 10, y: model.height - G.margin - 10, class: 'column-title', text: 'no traffic measured yet' }));
    svg.replaceChildren(...parts);
  }

  function render(status) {
    const now = Date.parse(status.generatedAt);
    renderHealth(status);
    renderProblems(status.problems);
    renderSites(status);
    renderLinks(status.links, now);
    renderGraph(status);
    renderFailovers(status.failovers, now);
    renderCertificates(status.certificates);
  }

  function showError(message) {
    const banner = byId('error');
    banner.textContent = message;
    banner.hidden = false;
    document.body.classList.add('stale');
    // Last known health would be misleading while the API does not answer.
    const health = byId('health');
    health.textContent = 'unknown';
    health.className = 'badge';
    health.dataset.healthy = 'unknown';
  }

  function clearError() {
    byId('error').hidden = true;
    document.body.classList.remove('stale');
  }

  async function describeFailure(res) {
    let message = '';
    try {
      const body = await res.json();
      if (body && typeof body.message === 'string') message = ': ' + body.message;
    } catch { /* not JSON: the status line says enough */ }
    if (res.status === 401) return '401 Unauthorized' + message + ' (the #token= in the URL is missing or wrong; use the URL the demo printed)';
    return 'HTTP ' + res.status + message;
  }

  async function poll() {
    if (!token) { showError('No token: open the dashboard with the URL the demo printed (…/dashboard#token=…)'); return; }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch('/v1/status', { headers: { authorization: 'Bearer ' + token, accept: 'application/json' }, cache: 'no-store', signal: abort.signal });
      if (!res.ok) { showError(await describeFailure(res)); return; }
      render(await res.json());
      clearError();
      const updated = byId('updated');
      updated.textContent = 'last updated ' + new Date().toLocaleTimeString();
      updated.dataset.at = new Date().toISOString();
    } catch (err) {
      showError('Status API unreachable: ' + (err && err.name === 'AbortError' ? 'no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s' : String(err && err.message ? err.message : err)));
    } finally {
      clearTimeout(timer);
    }
  }

  // One poll at a time: the next starts 2 s after the previous one settled, so a slow API never piles up requests.
  const loop = () => { poll().finally(() => setTimeout(loop, POLL_MS)); };
  window.addEventListener('hashchange', () => { token = readToken(); });
  loop();
})();
`;
