import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { LiveIdentity, type MtlsIdentity } from '../../../../shared/identity/index.js';
import { startRoleRenewal } from '../../../../shared/renewal/index.js';
import { jsonLogger } from '../../../../shared/telemetry/index.js';
import { TestTrustDomain } from '../../../support/pki/index.js';

const log = jsonLogger('test', () => undefined);
/** Due at once (the timer's floor, 500 ms): the certificate's whole life is past the renewal point. */
const AT_ONCE = { fraction: 0, jitter: 0 };
const running: { stop(): void }[] = [];
afterEach(() => running.splice(0).forEach((renewal) => renewal.stop()));

/** A renewal whose signer round trip is held until `answer` is called; `asked` is the identity it asked with. */
function heldRenewal(live: LiveIdentity, reply: (asked: MtlsIdentity) => MtlsIdentity): { asked: Promise<MtlsIdentity>; answer(): void } {
  let answer: () => void = () => undefined;
  // The renewal timer is unref'd (it never holds a process open): this keeps the test's loop alive meanwhile.
  const keepAlive = setInterval(() => undefined, 100);
  running.push({ stop: () => clearInterval(keepAlive) });
  const asked = new Promise<MtlsIdentity>((resolve) => {
    running.push(
      startRoleRenewal({
        role: 'agent',
        live,
        whenExpired: 'rejoin',
        log,
        policy: AT_ONCE,
        issue: (current) => {
          resolve(current);
          return new Promise((done) => (answer = () => done(reply(current))));
        },
      }),
    );
  });
  return { asked, answer: () => answer() };
}

describe('role renewal and the trust bundle', () => {
  const pki = new TestTrustDomain();
  const nextRoot = new TestTrustDomain().root.certificate;

  it('a trust document applied while a renewal is in flight is kept: the reply does not bring back the bundle it was asked with', async () => {
    const live = new LiveIdentity(pki.identity('east', 'agent', 'n1', { ttlMs: 60_000 }));
    const held = heldRenewal(live, (asked) => ({ ...pki.identity('east', 'agent', 'n1'), bundle: asked.bundle }));
    const asked = await held.asked;
    const both = live.current.bundle.withRoot(nextRoot);
    live.replace({ bundle: both });
    const renewed = new Promise<MtlsIdentity>((resolve) => live.onChange(resolve));
    held.answer();
    const next = await renewed;
    assert.notEqual(next.chain[0]?.fingerprint256, asked.chain[0]?.fingerprint256, 'the new certificate is in use');
    assert.equal(next.bundle, both, 'the bundle applied during the request stays');
  });

  it('a bundle the issuer brings (a control service reading its PKI dir) replaces the live one', async () => {
    const live = new LiveIdentity(pki.identity('east', 'svc', 'control', { ttlMs: 60_000 }));
    const brought = pki.bundle.withRoot(nextRoot);
    const held = heldRenewal(live, () => ({ ...pki.identity('east', 'svc', 'control'), bundle: brought }));
    await held.asked;
    const renewed = new Promise<MtlsIdentity>((resolve) => live.onChange(resolve));
    held.answer();
    assert.equal((await renewed).bundle, brought);
  });
});
