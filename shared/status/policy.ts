import type { EnforcedPolicy, PolicyReport } from '../policy/index.js';
import type { PolicyRejection } from './types.js';

/** What a process reports before it follows any policy: none published, nothing refused. */
export const NO_POLICY_REPORT: PolicyReport = Object.freeze({ version: null, rejected: null });

/** The policy fields every status record carries, from the reporter's policy follower (none published without one). */
export function policyFields(report: (() => PolicyReport) | undefined): { policyVersion: number | null; policyRejected: PolicyRejection | null } {
  const { version, rejected } = report?.() ?? NO_POLICY_REPORT;
  return { policyVersion: version, policyRejected: rejected === null ? null : { version: rejected.version, reason: rejected.reason } };
}

/**
 * Services whose mTLS mode is permissive in `policy`, sorted; '*' stands for the federation-wide
 * mode (every service without a mode of its own). Permissive is a migration state: status shows
 * it as a warning until every service is strict again.
 */
export function permissiveServices(policy: EnforcedPolicy): string[] {
  const mtls = policy.set?.defaults.spec.mtls;
  if (mtls === undefined) return [];
  const own = Object.entries(mtls.services ?? {}).filter(([, mode]) => mode === 'permissive').map(([service]) => service);
  return [...(mtls.mode === 'permissive' ? ['*'] : []), ...own.sort()];
}
