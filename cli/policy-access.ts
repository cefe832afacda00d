import { userInfo } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Command, ParsedArgs } from './index.js';
import { MeridianError } from '../shared/errors/index.js';
import type { PkiDirectory } from '../shared/identity/index.js';
import { isStreamNotFound } from '../shared/catalog/index.js';
import { policyMirrorName, type AppliedBy, type ReadOptions } from '../shared/policy/distribution/index.js';
import { connectAsControl, currentControlIdentity } from '../services/site/control-nats.js';
import { siteAccess } from './token.js';

/** What a policy command works with: the site's NATS as its control user, the trust domain, who applies. */
export interface PolicyAccess {
  readonly nc: NatsConnection;
  readonly site: string;
  readonly pki: PkiDirectory;
  readonly trustDomain: string;
  readonly appliedBy: AppliedBy;
}

/** Connects as the site's control user (from the control host: the PKI dir holds the site CA), runs `use`, closes. */
export async function withPolicyAccess<T>(args: ParsedArgs, command: Command, use: (access: PolicyAccess) => Promise<T>): Promise<T> {
  const { pki, site, natsUrl } = siteAccess(args, command);
  pki.loadSiteCertificate(site);
  // A one-shot command: fail fast rather than wait for a server that is not there.
  const nc = await connectAsControl({ pki, site, natsUrl, identity: currentControlIdentity(pki, site), name: `meridian-policy-${site}`, overrides: { maxReconnectAttempts: 0, timeout: 5_000 } });
  try {
    return await use({ nc, site, pki, trustDomain: pki.trustDomain(), appliedBy: { site, who: whoAmI() } });
  } finally {
    await nc.close();
  }
}

/**
 * Reads from the site's own mirror (what the site enforces; it answers while the site is cut off
 * from the origin's), or from the origin where no mirror exists yet (a site bootstrapped before
 * policies existed, until its control service creates it).
 */
export async function readAtSite<T>(access: PolicyAccess, read: (options: ReadOptions) => Promise<T>): Promise<T> {
  try {
    return await read({ stream: policyMirrorName(access.site) });
  } catch (error) {
    if (!isStreamNotFound(error)) throw error;
    return read({});
  }
}

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? 'unknown';
  }
}

/** A version flag or positional: a positive integer, else MERIDIAN_ERR_BAD_ARGUMENT naming it. */
export function versionArgument(value: string | undefined, what: string, command: Command): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${what} ${value}: a version is a positive integer\nusage: ${command.usage}`);
  return Number(value);
}
