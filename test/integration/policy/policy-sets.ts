import type { PolicySource } from '../../../shared/policy/index.js';

export const TD = 'acme.internal';

/** A valid set, different for each `n` (the allowed path prefix), so each apply makes a new version. */
export function policySet(n: number): PolicySource[] {
  return [
    {
      file: 'payments.yaml',
      text: `kind: Authorization
metadata: { name: payments-callers }
spec:
  action: allow
  service: payments
  rules:
    - from: [spiffe://acme.internal/site/*/svc/orders]
      to: [{ methods: [GET], paths: [{ prefix: /v${n}/ }] }]
`,
    },
  ];
}

/** A set with two violations (an unknown kind field and a foreign trust domain). */
export const INVALID_SET: PolicySource[] = [
  {
    file: 'broken.yaml',
    text: `kind: Authorization
metadata: { name: broken }
spec:
  action: allow
  service: payments
  colour: blue
  rules:
    - from: [spiffe://evil.example/site/a/svc/orders]
`,
  },
];
