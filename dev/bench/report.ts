import { renderTable as table } from '../../shared/text/index.js';
import { writeFileSync } from 'node:fs';
import type { BenchRow } from './types.js';

function format(value: number | undefined, digits = 2): string {
  if (value === undefined || Number.isNaN(value)) return '';
  return Math.abs(value) >= 100 ? String(Math.round(value)) : value.toFixed(digits);
}

/** A fixed-width table: case, metric, value, unit, baseline, baseline value, ratio, target. */
export function renderTable(rows: readonly BenchRow[]): string {
  const header = ['case', 'metric', 'value', 'unit', 'baseline', 'baseline value', 'ratio', 'target'];
  const cells = rows.map((r) => [r.case, r.metric, format(r.value), r.unit, r.baseline ?? '', format(r.baselineValue), r.ratio === undefined ? '' : `${format(r.ratio)}x`, r.target ?? '']);
  return table(header, cells);
}

export function writeJson(path: string, rows: readonly BenchRow[]): void {
  const document = { generatedAt: new Date().toISOString(), node: process.version, rows };
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
}
