import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { federationStatus, startStatusApi, type StatusApi } from '../../../services/status/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';
import { runCli } from '../../support/cli.js';
import { useTempDir } from '../../support/harness.js';

const TOKEN = 'access-test-token-0123456789';
const pki = new TestTrustDomain();
let api: StatusApi;
const dir = useTempDir('meridian-status-access-');

/** GET /v1/status over TLS 1.3 as `client` (or with no certificate), trusting the server's bundle. */
function get(options: { client?: MtlsIdentity; token?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      `${api.url}/v1/status`,
      {
        ca: pki.bundle.roots.map((root) => root.toString()),
        ...(options.client === undefined ? {} : { key: options.client.privateKey.export({ type: 'pkcs8', format: 'pem' }), cert: options.client.chain.map((c) => c.toString()).join('') }),
        ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
        maxVersion: options.maxVersion ?? 'TLSv1.3',
        // The server's identity is a SPIFFE ID, not a host name: the chain is what is checked here.
        checkServerIdentity: () => undefined,
        agent: false,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
  });
}

before(async () => {
  const identity = pki.identity('eu', 'svc', 'control');
  api = await startStatusApi({
    port: 0,
    tls: identity,
    access: { tokens: [TOKEN], bundle: identity.bundle },
    status: () => federationStatus({ site: 'eu', entries: [], catalog: [], now: Date.now() }),
    version: 'test',
  });
});

after(async () => {
  await api.close();
});

describe('status API over TLS', () => {
  it('accepts a client certificate of the trust domain instead of a token', async () => {
    assert.equal(await get({ client: pki.identity('us', 'svc', 'web') }), 200);
  });

  it('accepts the token without a client certificate, and refuses a request with neither', async () => {
    assert.equal(await get({ token: TOKEN }), 200);
    assert.equal(await get({}), 401);
  });

  it('refuses a certificate from a foreign CA, even one claiming the trust domain', async () => {
    assert.equal(await get({ client: pki.foreignIdentity('eu', 'svc', 'web') }), 401);
  });

  it('speaks TLS 1.3 only', async () => {
    await assert.rejects(get({ token: TOKEN, maxVersion: 'TLSv1.2' }), (error: Error & { code?: string }) => /SSL|TLS|alert/i.test(`${error.code ?? ''} ${error.message}`));
  });

  it('meridian status authenticates with a certificate: --ca-file, --cert-file, --key-file', async () => {
    const files = pki.writeIdentity(dir, 'us', 'svc', 'web');
    const args = ['status', '--url', api.url, '--ca-file', files.caFile, '--trust-domain', 'acme.internal', '--cert-file', files.certFile, '--key-file', files.keyFile];
    const result = await runCli([...args, '--json'], {
      MERIDIAN_STATUS_TOKEN: '',
    });
    // An empty federation answers, and is healthy: nothing is wrong with nothing.
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { answeredBy: string }).answeredBy, 'eu');
    // A server of another trust domain's bundle is not believed, whatever its host name.
    new TestTrustDomain().writeBundle(files.caFile);
    const foreign = await runCli(args, { MERIDIAN_STATUS_TOKEN: '' });
    assert.equal(foreign.code, 3, 'could not ask: a server it cannot trust says nothing about the federation');
    assert.match(foreign.stderr, /^meridian: MERIDIAN_ERR_UNAVAILABLE: cannot reach the status API at https:\/\/127\.0\.0\.1:\d+\/v1\/status: /);
  });
});

describe('status API settings', () => {
  it('refuses to start without authentication, or with a guessable token, and names why', async () => {
    const status = (): ReturnType<typeof federationStatus> => federationStatus({ site: 'eu', entries: [], catalog: [], now: Date.now() });
    await assert.rejects(startStatusApi({ port: 0, access: { tokens: [] }, status, version: 'test' }), (error: unknown) => {
      assert.ok(isMeridianError(error, 'MERIDIAN_ERR_CONFIG_INVALID'));
      assert.equal(error.message, 'the status API needs a token or TLS with client certificates: it never serves without authentication');
      return true;
    });
    await assert.rejects(startStatusApi({ port: 0, access: { tokens: ['short'] }, status, version: 'test' }), (error: unknown) => {
      assert.ok(isMeridianError(error, 'MERIDIAN_ERR_CONFIG_INVALID'));
      assert.equal(error.message, 'status API token #1 must be at least 16 characters without whitespace');
      return true;
    });
  });
});
