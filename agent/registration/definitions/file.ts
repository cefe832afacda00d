import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MeridianError } from '../../../shared/errors/index.js';
import { parseDefinitionsText, type DefinitionsFileResult, type DefinitionsFormat } from './parse.js';

/** Larger files are rejected: a definitions file holds a few services, not a data dump. */
export const MAX_DEFINITIONS_FILE_BYTES = 1024 * 1024;

/** A definitions file found in the directory, with what it holds. */
export interface DefinitionsFileScan {
  readonly path: string;
  readonly result: DefinitionsFileResult;
}

/** Every definitions file of a directory, in path order, and the directory's inode (to notice a replaced directory). */
export interface DirectoryScan {
  readonly ino: number;
  readonly files: readonly DefinitionsFileScan[];
}

/**
 * The format of a definitions file by its name (`.yaml`, `.yml`, `.json`, any case), or undefined
 * for files to ignore: other extensions, dotfiles (which covers Kubernetes' `..data` and emacs'
 * `.#lock` files) and editor leftovers such as `name.yaml~` or `#name.yaml#`.
 */
export function definitionsFormat(name: string): DefinitionsFormat | undefined {
  if (name.startsWith('.') || name.startsWith('#') || name.endsWith('~')) return undefined;
  const lower = name.toLowerCase();
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.json')) return 'json';
  return undefined;
}

/**
 * Reads, parses and validates one definitions file. Never throws for bad content or an
 * unreadable file: every problem is in `errors`, each naming the file.
 */
export async function loadDefinitionFile(path: string): Promise<DefinitionsFileResult> {
  const format = definitionsFormat(path.split(/[\\/]/).pop() ?? path);
  if (format === undefined) {
    return { definitions: [], errors: [new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: not a definitions file (expected .yaml, .yml or .json)`)] };
  }
  const result = await readDefinitionsFile(path, format);
  return result ?? { definitions: [], errors: [new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: no such file`)] };
}

/** Throws a MeridianError naming `dir` unless it is a readable directory; returns its inode. */
export async function assertDefinitionsDir(dir: string): Promise<{ ino: number }> {
  return { ino: (await readDir(dir)).ino };
}

/** Reads every definitions file of `dir` (not recursive). Throws a MeridianError naming `dir` when it can't be listed. */
export async function scanDefinitionsDir(dir: string): Promise<DirectoryScan> {
  const { ino, names } = await readDir(dir);
  const candidates = names
    .map((name) => ({ path: join(dir, name), format: definitionsFormat(name) }))
    .filter((c): c is { path: string; format: DefinitionsFormat } => c.format !== undefined)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const results = await Promise.all(candidates.map(async (c) => ({ path: c.path, result: await readDefinitionsFile(c.path, c.format) })));
  const files = results.filter((r): r is DefinitionsFileScan => r.result !== undefined);
  return { ino, files };
}

/** undefined when the file is gone (deleted mid-scan) or is not a regular file. */
async function readDefinitionsFile(path: string, format: DefinitionsFormat): Promise<DefinitionsFileResult | undefined> {
  let text: string;
  try {
    // stat follows symlinks, so Kubernetes ConfigMap volumes (links into ..data/) work.
    const info = await stat(path);
    if (!info.isFile()) return undefined;
    if (info.size > MAX_DEFINITIONS_FILE_BYTES) {
      return failed(new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: file is ${info.size} bytes, more than the ${MAX_DEFINITIONS_FILE_BYTES} allowed`));
    }
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(path));
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    if (err instanceof TypeError) {
      return failed(new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: not valid UTF-8`, { cause: err }));
    }
    return failed(new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot read: ${errorText(err)}`, { cause: err }));
  }
  return parseDefinitionsText(text, { path, format });
}

async function readDir(dir: string): Promise<{ ino: number; names: string[] }> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) {
      throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `definitions directory ${dir}: not a directory`);
    }
    return { ino: info.ino, names: await readdir(dir) };
  } catch (err) {
    if (err instanceof MeridianError) throw err;
    if (errno(err) === 'ENOENT') {
      throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `definitions directory ${dir}: does not exist`, { cause: err });
    }
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `definitions directory ${dir}: cannot read: ${errorText(err)}`, { cause: err });
  }
}

function failed(error: MeridianError): DefinitionsFileResult {
  return { definitions: [], errors: [error] };
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
