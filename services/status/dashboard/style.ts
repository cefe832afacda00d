/**
 * The dashboard's stylesheet, inlined into the page so it needs no second request and no
 * external URL. Colours carry meaning (state, health, cross-site) and are also spelled out in
 * text, so nothing depends on colour alone.
 */
export const DASHBOARD_STYLE = `
:root { color-scheme: light; --bg: #f5f6f8; --card: #fff; --line: #d8dce3; --text: #1d2330; --muted: #5f6b7d;
  --ok: #1a7f37; --warn: #b7791f; --bad: #c62828; --cross: #1f6feb; --local: #6e7781; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding: 12px 20px; background: #1d2330; color: #fff; }
header h1 { font-size: 18px; margin: 0 12px 0 0; }
header .meta { color: #c9d1d9; font-size: 13px; }
main { padding: 12px 20px 40px; }
h2 { font-size: 15px; margin: 18px 0 8px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; background: #6e7781; color: #fff; }
.badge.healthy { background: var(--ok); }
.badge.unhealthy { background: var(--bad); }
.banner { margin: 12px 20px 0; padding: 10px 14px; border-radius: 6px; background: #fde7e9; border: 1px solid var(--bad); color: #8a1c1c; font-weight: 600; }
.banner[hidden] { display: none; }
body.stale main { opacity: 0.6; }
ul.problems { margin: 0; padding: 0; list-style: none; }
ul.problems li { padding: 6px 10px; margin-bottom: 4px; background: var(--card); border-left: 4px solid var(--warn); border-radius: 4px; }
ul.problems li.error { border-left-color: var(--bad); }
ul.problems li.none { border-left-color: var(--ok); }
ul.problems .sev { font-weight: 700; text-transform: uppercase; font-size: 11px; margin-right: 8px; }
ul.problems li.error .sev { color: var(--bad); }
ul.problems li.warning .sev { color: var(--warn); }
.none { color: var(--muted); font-style: italic; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-top: 4px solid var(--ok); border-radius: 6px; padding: 10px 14px; }
.card.unreachable { border-top-color: var(--bad); }
.card h3 { margin: 0 0 6px; font-size: 16px; }
.card dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; }
.card dt { color: var(--muted); }
.card dd { margin: 0; }
.bad { color: var(--bad); font-weight: 600; }
.good { color: var(--ok); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
table { border-collapse: collapse; background: var(--card); border: 1px solid var(--line); width: 100%; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: #eef0f4; font-weight: 600; font-size: 12px; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; }
.state.up { background: var(--ok); }
.state.connecting { background: var(--warn); }
.state.down { background: var(--bad); }
.state.unknown { background: #6e7781; }
/* A link's last error can be long: it wraps at word boundaries under the state badge. */
td.state-cell { white-space: normal; min-width: 12em; }
.err-text { display: block; margin-top: 2px; color: var(--bad); font-size: 12px; }
.graph-row { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
.graph-row > div { flex: 0 1 auto; min-width: 0; }
/*
 * The tables beside the graph need about 640px to read (a reason in lines of words, a route on
 * one line); where the graph leaves less, they move under it and take the full width. The aside
 * keeps its automatic minimum width (its tables' min-content), so it is never squeezed narrower
 * than its longest word and never overflows the page.
 */
.graph-row > aside { flex: 1 1 640px; }
/*
 * Long reasons, reporters and SPIFFE IDs wrap between their words and after a path's slashes
 * only: the script puts each piece in a nowrap .word, so a cell's min-content is its longest
 * word and the table never squeezes a column narrower (no letter-by-letter or mid-name wrap).
 */
td.wrap, td.route { white-space: normal; }
td.reason { min-width: 14em; }
.word, .nowrap { white-space: nowrap; }
td.route .kind { color: var(--muted); }
td.route .kind.bad { color: var(--bad); }
svg#graph { background: var(--card); border: 1px solid var(--line); border-radius: 6px; max-width: 100%; height: auto; }
svg .column { fill: #f0f3f7; stroke: var(--line); }
svg .column-title { font-weight: 700; font-size: 13px; fill: var(--text); }
svg .node rect { fill: #fff; stroke: #1d2330; stroke-width: 1.2; }
svg .node text { font-size: 13px; fill: var(--text); }
svg .edge path { fill: none; stroke-width: 2; }
svg .edge.local path { stroke: var(--local); }
svg .edge.cross path { stroke: var(--cross); stroke-dasharray: 7 4; }
svg .edge.errors path { stroke: var(--bad); }
svg .edge text { font-size: 12px; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .edge.local text { fill: var(--local); }
svg .edge.cross text { fill: var(--cross); }
svg .edge.errors text { fill: var(--bad); }
.legend { font-size: 12px; color: var(--muted); margin-top: 4px; }
.legend .cross { color: var(--cross); font-weight: 600; }
.legend .local { color: var(--local); font-weight: 600; }
`;
