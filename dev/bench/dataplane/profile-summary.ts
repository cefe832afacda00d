/**
 * Summarises V8 .cpuprofile files (node --cpu-prof, e.g. from MERIDIAN_BENCH_CPU_PROF=<dir>):
 * where the time goes by self time per function and per source file, and inclusive time of
 * the functions named with --focus.
 *
 *   node dist/dev/bench/dataplane/profile-summary.js <file.cpuprofile>... [--top 25] [--focus name]... [--from ms] [--to ms] [--tree percent]
 *
 * --from/--to keep the samples taken in that window after the profile started (skip start-up).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time (ms) of every node id, over the samples taken between `fromMs` and `toMs` after the profile started. */
function selfTimes(profile: Profile, fromMs: number, toMs: number): Map<number, number> {
  const self = new Map<number, number>();
  let at = 0;
  profile.samples.forEach((id, i) => {
    const delta = (profile.timeDeltas[i] ?? 0) / 1000;
    at += delta;
    if (at >= fromMs && at <= toMs) self.set(id, (self.get(id) ?? 0) + delta);
  });
  return self;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url === '' ? '' : ` ${url.replace(/^file:\/\/.*\/dist\//, '').replace(/^node:/, 'node:')}:${lineNumber + 1}`;
  return `${functionName === '' ? '(anonymous)' : functionName}${file}`;
}

function fileOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === '') return `(${functionName || 'native'})`;
  return url.replace(/^file:\/\/.*\/dist\//, '').replace(/^file:\/\/.*\/node_modules\//, 'node_modules/');
}

function top(totals: Map<string, number>, count: number, all: number): string[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => `${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / all).toFixed(1).padStart(5)}%  ${name}`);
}

/** Inclusive time of every node whose function name is one of `names` (outermost occurrence only, so recursion is not counted twice). */
function focusTimes(profile: Profile, self: Map<number, number>, names: readonly string[]): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  const walk = (id: number, inside: ReadonlySet<string>): number => {
    const node = byId.get(id);
    if (node === undefined) return 0;
    const name = node.callFrame.functionName;
    const counted = names.includes(name) && !inside.has(name);
    const nextInside = counted ? new Set([...inside, name]) : inside;
    let total = self.get(id) ?? 0;
    for (const child of node.children ?? []) total += walk(child, nextInside);
    if (counted) totals.set(label(node), (totals.get(label(node)) ?? 0) + total);
    return total;
  };
  const root = profile.nodes[0];
  if (root !== undefined) walk(root.id, new Set());
  return totals;
}

/** Options of {@link summarise}. */
interface SummaryOptions {
  readonly count: number;
  readonly focus: readonly string[];
  readonly fromMs: number;
  readonly toMs: number;
  /** Print the top-down tree down to nodes of this share of busy time (percent); undefined: no tree. */
  readonly treePercent: number | undefined;
}

/** Top-down call tree: every node with at least `minPercent` of the busy time, inclusive. */
function tree(profile: Profile, self: Map<number, number>, busy: number, minPercent: number): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const inclusive = new Map<number, number>();
  const total = (id: number): number => {
    const node = byId.get(id);
    const ms = (self.get(id) ?? 0) + (node?.children ?? []).reduce((sum, child) => sum + total(child), 0);
    inclusive.set(id, ms);
    return ms;
  };
  const root = profile.nodes[0];
  if (root === undefined) return [];
  total(root.id);
  const lines: string[] = [];
  const print = (id: number, depth: number): void => {
    const node = byId.get(id);
    const ms = inclusive.get(id) ?? 0;
    if (node === undefined || (100 * ms) / busy < minPercent || node.callFrame.functionName === '(idle)') return;
    lines.push(`${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${'  '.repeat(depth)}${label(node)}`);
    for (const child of [...(node.children ?? [])].sort((a, b) => (inclusive.get(b) ?? 0) - (inclusive.get(a) ?? 0))) print(child, depth + 1);
  };
  print(root.id, 0);
  return lines;
}

function summarise(path: string, options: SummaryOptions): void {
  const { count, focus } = options;
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const self = selfTimes(profile, options.fromMs, options.toMs);
  const all = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    byFunction.set(label(node), (byFunction.get(label(node)) ?? 0) + ms);
    byFile.set(fileOf(node), (byFile.get(fileOf(node)) ?? 0) + ms);
  }
  const idle = byFunction.get('(idle)') ?? 0;
  console.log(`== ${basename(path)}: ${all.toFixed(0)} ms sampled, ${(all - idle).toFixed(0)} ms busy`);
  console.log('-- self time by function');
  console.log(top(byFunction, count, all).join('\n'));
  console.log('-- self time by file');
  console.log(top(byFile, count, all).join('\n'));
  if (options.treePercent !== undefined) {
    console.log(`-- top-down, inclusive, nodes >= ${options.treePercent}% of busy time`);
    console.log(tree(profile, self, all - idle, options.treePercent).join('\n'));
  }
  if (focus.length > 0) {
    console.log('-- inclusive time of focused functions');
    console.log(top(focusTimes(profile, self, focus), count, all).join('\n'));
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, focus: { type: 'string', multiple: true, default: [] }, from: { type: 'string', default: '0' }, to: { type: 'string', default: 'Infinity' }, tree: { type: 'string' } },
});
for (const path of positionals) summarise(path, { count: Number(values.top), focus: values.focus, fromMs: Number(values.from), toMs: Number(values.to), treePercent: values.tree === undefined ? undefined : Number(values.tree) });
