import { parseSpiffeId, type SpiffeId } from '../../../../shared/identity/index.js';

export const TD = 'acme.internal';

/** A workload identity of the test trust domain. */
export function svc(site: string, name: string): SpiffeId {
  return parseSpiffeId(`spiffe://${TD}/site/${site}/svc/${name}`, TD);
}

