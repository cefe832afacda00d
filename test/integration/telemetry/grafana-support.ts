/**
 * What the Grafana dashboard tests share: the shipped dashboard read as Grafana reads it (rows,
 * panels, targets, template variables), and a target's PromQL with its variables replaced the
 * way Grafana replaces them before it sends the query to Prometheus.
 */
import assert from 'node:assert/strict';
import { grafanaDashboard } from '../../../shared/telemetry/dashboards/index.js';

/** The datasource reference every panel and target carries: the dashboard's datasource variable. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

export interface GrafanaTarget {
  readonly refId: string;
  readonly expr: string;
  readonly datasource?: unknown;
  readonly instant?: boolean;
  readonly range?: boolean;
  readonly format?: string;
  readonly legendFormat?: string;
}

export interface GrafanaPanel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { readonly h: number; readonly w: number; readonly x: number; readonly y: number };
  readonly datasource?: unknown;
  readonly targets?: readonly GrafanaTarget[];
  readonly panels?: readonly GrafanaPanel[];
}

export interface GrafanaVariable {
  readonly name: string;
  readonly type: string;
  readonly query: unknown;
  readonly datasource?: unknown;
  readonly multi?: boolean;
  readonly includeAll?: boolean;
  readonly allValue?: string;
}

export interface GrafanaDashboard {
  readonly title: string;
  readonly uid: string;
  readonly schemaVersion: number;
  readonly templating: { readonly list: readonly GrafanaVariable[] };
  readonly panels: readonly GrafanaPanel[];
}

/** The shipped dashboard, parsed. */
export function shippedDashboard(): GrafanaDashboard {
  return JSON.parse(grafanaDashboard()) as GrafanaDashboard;
}

/** Every panel that queries (rows left out, panels of collapsed rows included), in dashboard order. */
export function queryPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? [...(p.panels ?? [])] : [p]));
}

/** Values for the template variables and Grafana's built-ins; `All` of a multi-value variable is its allValue. */
export interface Substitution {
  readonly site?: string;
  readonly service?: string;
  /** `$__rate_interval`, `$__interval`, `$__range`: default 1m, 15s, 5m. */
  readonly rateInterval?: string;
}

/**
 * `expr` as Grafana sends it: `$name` and `${name}` of the template variables replaced by the
 * selected value (`All` = the variable's allValue `.*`), Grafana's interval built-ins by durations.
 * Fails on any variable left over, so a typo'd variable can't pass as a literal.
 */
export function substitute(expr: string, values: Substitution = {}): string {
  const table: Record<string, string> = {
    site: values.site ?? '.*',
    service: values.service ?? '.*',
    __rate_interval: values.rateInterval ?? '1m',
    __interval: '15s',
    __range: '5m',
  };
  const out = expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const value = table[name];
    assert.ok(value !== undefined, `unknown variable ${whole} in ${expr}`);
    return value;
  });
  assert.doesNotMatch(out, /\$/, `a variable is left in ${out}`);
  return out;
}
