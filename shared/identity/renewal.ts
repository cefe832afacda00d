import type { X509Certificate } from 'node:crypto';

/** When to renew: at `fraction` of the lifetime plus up to `jitter` of it, so a fleet issued together does not renew together. */
export interface RenewalPolicy {
  /** Default 0.5: renew at half-life, as Istio and Linkerd do. */
  readonly fraction?: number;
  /** Default 0.1: spread renewals over the next 10% of the lifetime. */
  readonly jitter?: number;
  readonly random?: () => number;
}

/** The moment a certificate is due for renewal under `policy`. */
export function renewalDueAt(certificate: X509Certificate, policy: RenewalPolicy = {}): Date {
  const notBefore = new Date(certificate.validFrom).getTime();
  const lifetime = new Date(certificate.validTo).getTime() - notBefore;
  const fraction = policy.fraction ?? 0.5;
  const jitter = policy.jitter ?? 0.1;
  const offset = lifetime * (fraction + jitter * (policy.random ?? Math.random)());
  return new Date(notBefore + Math.min(offset, lifetime));
}
