import { optionalString, type Command } from './index.js';
import { MeridianError, isMeridianError } from '../shared/errors/index.js';
import { parseSpiffeId } from '../shared/identity/index.js';
import { applyPolicy, readLatestPolicy, withRevocation, type ApplyResult, type RevocationEntry } from '../shared/policy/distribution/index.js';
import { formatViolation, type PolicyViolation } from '../shared/policy/index.js';
import { withPolicyAccess } from './policy-access.js';
import { WHERE, whereOptions } from './token.js';

/** Default life of a revocation: the longest certificate lifetime Meridian issues (24 h), after which the leaf has expired anyway. */
const DEFAULT_REVOCATION_MS = 24 * 60 * 60 * 1000;
/** Applies retried when another apply wins in between. */
const ATTEMPTS = 4;

const revoke: Command = {
  group: 'revoke',
  name: '',
  summary: 'revoke an identity or a certificate serial at every site (a new policy version)',
  usage: `meridian revoke --identity spiffe://... | --serial <hex> [--until <RFC3339>] [--reason <text>] ${WHERE}`,
  options: { ...whereOptions, identity: { type: 'string' }, serial: { type: 'string' }, until: { type: 'string' }, reason: { type: 'string' } },
  async run(args, io) {
    const now = new Date();
    const partial = subject(optionalString(args, 'identity'), optionalString(args, 'serial'));
    const entry: RevocationEntry = { ...partial, notAfter: until(optionalString(args, 'until'), now), ...reasonOf(optionalString(args, 'reason')) };
    try {
      const result = await withPolicyAccess(args, revoke, async (access) => {
        if (entry.identity !== undefined) checkIdentity(entry.identity, access.trustDomain);
        for (let attempt = 1; ; attempt++) {
          const latest = await readLatestPolicy(access.nc);
          const sources = withRevocation(latest?.sources ?? [], entry, now);
          try {
            return await applyPolicy(access.nc, { sources, trustDomain: access.trustDomain, appliedBy: access.appliedBy, expectedVersion: latest?.version ?? null });
          } catch (error) {
            if (!isMeridianError(error, 'MERIDIAN_ERR_POLICY_CONFLICT') || attempt === ATTEMPTS) throw error;
          }
        }
      });
      io.out(message(result, entry));
      return 0;
    } catch (error) {
      if (!isMeridianError(error, 'MERIDIAN_ERR_POLICY_INVALID')) throw error;
      for (const violation of (error.details?.violations ?? []) as PolicyViolation[]) io.err(formatViolation(violation));
      throw error;
    }
  },
};

function subject(identity: string | undefined, serial: string | undefined): Pick<RevocationEntry, 'identity' | 'serial'> {
  if ((identity === undefined) === (serial === undefined)) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `exactly one of --identity or --serial is required\nusage: ${revoke.usage}`);
  if (serial !== undefined && !/^[0-9A-Fa-f]{1,40}$|^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){0,19}$/.test(serial)) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--serial ${serial}: a certificate serial in hex (e.g. 0a1b2c or 0a:1b:2c)`);
  }
  return identity === undefined ? { serial: serial ?? '' } : { identity };
}

function checkIdentity(identity: string, trustDomain: string): void {
  try {
    parseSpiffeId(identity, trustDomain);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--identity ${identity}: ${(cause as Error).message}`, { cause });
  }
}

/** --until (RFC 3339, in the future), else now + 24 h. */
function until(value: string | undefined, now: Date): string {
  if (value === undefined) return new Date(now.getTime() + DEFAULT_REVOCATION_MS).toISOString();
  const at = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(at)) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--until ${value}: an RFC 3339 time such as 2026-12-31T00:00:00Z`);
  }
  if (at <= now.getTime()) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--until ${value}: already passed`);
  return new Date(at).toISOString();
}

function reasonOf(reason: string | undefined): { reason?: string } {
  return reason === undefined ? {} : { reason };
}

function message(result: ApplyResult, entry: RevocationEntry): string {
  const what = entry.identity ?? `serial ${entry.serial ?? ''}`;
  return `${what} revoked until ${entry.notAfter}: policy version ${result.record.version}${result.outcome === 'unchanged' ? ' (already in force)' : ''}`;
}

/** `meridian revoke`: adds an entry to the CLI-managed Revocation document and applies the set. */
export const revokeCommands: readonly Command[] = [revoke];
