/**
 * Where the federation's policy set lives in JetStream: ONE origin stream (`MERIDIAN_POLICY`,
 * subject `meridian.policy.set`) placed in the cluster of the first site bootstrapped, and a
 * mirror of it in every site's own cluster (`MERIDIAN_POLICY_<site>`), so a site cut off from
 * the origin keeps its last versions. A version is the origin's stream sequence: monotonic,
 * never reused; mirrors keep the origin's sequences.
 */
export const POLICY_STREAM = 'MERIDIAN_POLICY';
export const POLICY_SUBJECT = 'meridian.policy.set';

/** Versions kept (origin and mirrors): older ones leave history and can no longer be rolled back to. */
export const POLICY_HISTORY = 1000;

/** The largest record (JSON body) a set may make: well under the server's default max payload (1 MiB). */
export const MAX_POLICY_RECORD_BYTES = 512 * 1024;

/** A site's mirror of the policy stream, in the site's own cluster. */
export function policyMirrorName(site: string): string {
  return `${POLICY_STREAM}_${site}`;
}
