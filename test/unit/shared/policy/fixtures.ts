import { parseIdentityPattern } from '../../../../shared/policy/index.js';
import { parseSpiffeId, type SpiffeId } from '../../../../shared/identity/index.js';

export const TD = 'acme.internal';

/** A workload identity of the test trust domain. */
export function svc(site: string, name: string): SpiffeId {
  return parseSpiffeId(`spiffe://${TD}/site/${site}/svc/${name}`, TD);
}

/** Guards the fixtures themselves: a pattern the tests use must be valid. */
export function pattern(text: string): string {
  if (typeof parseIdentityPattern(text, TD) === 'string') throw new RangeError(`bad fixture pattern ${text}`);
  return text;
}
