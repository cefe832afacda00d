import { MeridianError } from '../errors/index.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses durations such as `250ms`, `30s`, `15m`, `24h`, `7d`; `field` names the flag or key in errors. */
export function parseDuration(text: string, field: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${field}: ${JSON.stringify(text)} is not a duration (use e.g. 30s, 15m, 24h, 7d)`);
  }
  return Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1);
}
