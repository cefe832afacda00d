import { parseArgs } from 'node:util';
import { catalogPropagation } from './cases/catalog-propagation.js';
import { catalogScale } from './cases/catalog-scale.js';
import { certificateIssuance } from './cases/certificate-issuance.js';
import { dataplane } from './cases/dataplane-paths.js';
import { policyApply } from './cases/policy-apply.js';
import { policyDecisions } from './cases/policy-decisions.js';
import { policyRevoke } from './cases/policy-revoke.js';
import { renderTable, writeJson } from './report.js';
import type { BenchCase, BenchRow } from './types.js';

/** Every case, each run beside its baseline. Later issues add theirs here. */
const CASES: readonly BenchCase[] = [certificateIssuance, catalogPropagation, catalogScale, dataplane, policyDecisions, policyApply, policyRevoke];

const { values } = parseArgs({ options: { json: { type: 'string' }, case: { type: 'string', multiple: true } }, strict: true });
const selected = values.case === undefined ? CASES : CASES.filter((c) => values.case?.some((name) => c.name.startsWith(name)));
if (selected.length === 0) {
  console.error(`no benchmark case matches ${values.case?.join(', ')}; cases: ${CASES.map((c) => c.name).join(', ')}`);
  process.exit(2);
}

const rows: BenchRow[] = [];
for (const benchCase of selected) {
  console.error(`bench: ${benchCase.name}: ${benchCase.description}`);
  rows.push(...(await benchCase.run()));
}
console.log(renderTable(rows));
if (values.json !== undefined) {
  writeJson(values.json, rows);
  console.error(`bench: ${rows.length} rows written to ${values.json}`);
}
