import { readFileSync } from 'node:fs';

/** Meridian's version, from the package manifest (two folders above this module, in source and in dist alike). */
function readVersion(): string {
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'meridian' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // Not at this depth; try the next.
    }
  }
  return '0.0.0-unknown';
}

export const MERIDIAN_VERSION = readVersion();
