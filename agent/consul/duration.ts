import { MeridianError } from '../../shared/errors/index.js';

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;

/**
 * A Go duration as Consul reads it (`10s`, `1m30s`, `250ms`) in milliseconds; throws
 * MERIDIAN_ERR_BAD_ARGUMENT naming `field` for anything else (a bare number included, as Consul).
 */
export function parseGoDuration(text: string, field: string): number {
  if (text.length === 0 || text.length > 32) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${field}: ${JSON.stringify(text.slice(0, 32))} is not a duration such as 10s, 1m30s or 250ms`);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const match = PART.exec(text);
    if (match === null || match.index !== at) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${field}: ${JSON.stringify(text)} is not a duration such as 10s, 1m30s or 250ms`);
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
  }
  return Math.round(total);
}
