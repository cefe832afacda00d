/**
 * A renewed site CA makes the control service start a signer with it and stop the previous one.
 * Requests the server had already routed to the previous signer must still be answered: an agent
 * whose renewal went unanswered waits out its request timeout, and with short certificate
 * lifetimes that is past its certificate's expiry.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { FederatedView, signerSubject } from '../../../shared/catalog/index.js';
import type { SignReply } from '../../../shared/identity/index.js';
import { startSigner } from '../../../services/signer/index.js';
import { fileScope, useNatsServer } from '../../support/harness.js';
import { TestTrustDomain } from '../../support/pki/index.js';

it('a signer stopped while requests are on their way to it answers them: none is left to time out', async () => {
  const nats = await useNatsServer();
  const nc = await connect({ servers: nats.url });
  fileScope.after(() => nc.close());
  const pki = new TestTrustDomain();
  const catalog = new FederatedView({ sites: ['east'] });
  const previous = startSigner({ nc, authority: pki.site('east'), catalog });
  await nc.flush();
  // Written in one go: the server routes these to the previous signer before it reads the next SUB and UNSUB.
  const requests = Array.from({ length: 20 }, () => nc.request(signerSubject('east'), '{}', { timeout: 3000 }).then((m) => m.json<SignReply>()));
  const next = startSigner({ nc, authority: pki.site('east'), catalog });
  fileScope.after(() => Promise.resolve(next.stop()));
  previous.stop();
  const replies = await Promise.allSettled(requests);
  const unanswered = replies.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason));
  assert.deepEqual(unanswered, []);
  for (const reply of replies) assert.ok(reply.status === 'fulfilled' && 'error' in reply.value && reply.value.error.code === 'MERIDIAN_ERR_CONFIG_INVALID', JSON.stringify(reply));
});
