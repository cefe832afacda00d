/**
 * The layout's rules, checked on the sources: roles (agent, gateway, control services) import
 * only `shared/`; `shared/` imports no role; production code never imports test or dev code;
 * and no module imports itself back through a cycle.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
type Folder = string;

/** What each top-level folder may import besides itself: layout.json, which the ESLint rule reads too. */
const ALLOWED = (JSON.parse(readFileSync(join(ROOT, 'layout.json'), 'utf8')) as { allowedImports: Record<Folder, readonly Folder[]> }).allowedImports;

/** Every top-level source folder, as layout.json names them. */
const SOURCE_FOLDERS = Object.keys(ALLOWED);

const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sources(folder: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every source file with the source files it imports (relative specifiers, `.js` mapped to `.ts`). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const folder of SOURCE_FOLDERS) {
    for (const file of sources(join(ROOT, folder))) {
      const text = readFileSync(file, 'utf8');
      const targets = [...text.matchAll(IMPORT)].map((m) => resolve(dirname(file), (m[1] ?? '').replace(/\.js$/, '.ts')));
      graph.set(relative(ROOT, file), targets.map((t) => relative(ROOT, t)));
    }
  }
  return graph;
}

function folderOf(path: string): string {
  return path.split('/')[0] ?? '';
}

/** Cycles by depth-first search; each is reported once, as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next) && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe('layout', () => {
  const graph = importGraph();

  it('layout.json names every top-level folder with TypeScript sources', () => {
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
    assert.deepEqual([...tsconfig.include].sort(), [...SOURCE_FOLDERS].sort());
  });

  it('reads every source folder', () => {
    for (const folder of SOURCE_FOLDERS) assert.ok([...graph.keys()].some((f) => folderOf(f) === folder), `no sources under ${folder}/`);
  });

  it('roles import only shared/, and shared/ imports no role', () => {
    const violations: string[] = [];
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      for (const target of targets) {
        const to = folderOf(target);
        if (to !== from && !(ALLOWED[from] ?? []).includes(to)) violations.push(`${file} -> ${target}`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it('every relative import names an existing source file', () => {
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((t) => t.endsWith('.ts') && !graph.has(t)).map((t) => `${file} -> ${t}`));
    assert.deepEqual(missing, []);
  });

  it('has no import cycle', () => {
    assert.deepEqual(cycles(graph).map((cycle) => cycle.join(' -> ')), []);
  });
});
