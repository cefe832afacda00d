import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Type } from '@sinclair/typebox';
import { parseConfig } from '../../shared/config/index.js';
import { type CatalogReader, signerSubject } from '../../shared/catalog/index.js';
import { MeridianError, isMeridianError } from '../../shared/errors/index.js';
import {
  REPLAY_WINDOW_MS,
  chainToPem,
  parseCertificates,
  parseCsr,
  parseSpiffeId,
  verifyPeer,
  verifyProof,
  type SignReply,
  type SignRequest,
  type SiteAuthority,
  type SpiffeId,
} from '../../shared/identity/index.js';
import { LivePolicy } from '../../shared/policy/index.js';
import type { X509Certificate } from 'node:crypto';
import { assertIdentityNotRevoked, assertLeafNotRevoked } from './revocation.js';

const SignRequestSchema = Type.Object({
  csr: Type.String({ minLength: 1 }),
  agentChain: Type.String({ minLength: 1 }),
  at: Type.String({ minLength: 1 }),
  proof: Type.String({ minLength: 1 }),
});

/** What the signer needs: the site's CA, its catalog view (to check node ownership), and leaf lifetimes. */
export interface SignerOptions {
  readonly nc: NatsConnection;
  readonly authority: SiteAuthority;
  readonly catalog: CatalogReader;
  /** Lifetime of workload certificates (default the authority's, 24 h). */
  readonly ttlMs?: number;
  /** Lifetime of renewed agent and gateway certificates (default the authority's, 24 h). */
  readonly roleTtlMs?: number;
  readonly now?: () => number;
  /**
   * The policy in force: nothing is issued to a requester whose own certificate is revoked, nor
   * for an identity with a revocation in force (MERIDIAN_ERR_REVOKED). Default: nothing revoked.
   */
  readonly policy?: LivePolicy;
  /** `caller` asked for `identity`: a workload of its node, or its own identity renewed. */
  readonly onIssued?: (caller: SpiffeId, identity: SpiffeId) => void;
  readonly onRefused?: (error: MeridianError) => void;
}

/**
 * Serves the certificate requests of the site's node agents and gateways. An agent gets the
 * identity of a service only when that service is registered on the agent's own node, so a
 * compromised node cannot mint identities of services it does not run. An agent or gateway
 * renews its own identity, and only its own, while its current certificate is still valid; every
 * proof is accepted once. `stop` answers the requests already on their way, then leaves.
 */
export function startSigner(options: SignerOptions): { stop(): void } {
  const seen = new ProofLedger();
  const policy = options.policy ?? new LivePolicy();
  const subscription: Subscription = options.nc.subscribe(signerSubject(options.authority.site), {
    callback: (error, message) => {
      if (error !== null) return;
      void answer(options, policy, seen, () => message.json<unknown>()).then((reply) => message.respond(JSON.stringify(reply)));
    },
  });
  // Drained, not dropped: a request the server routed here before it saw the UNSUB (a site CA
  // swap starts the next signer first) is still answered.
  return { stop: () => void subscription.drain().catch(() => undefined) };
}

async function answer(options: SignerOptions, policy: LivePolicy, seen: ProofLedger, body: () => unknown): Promise<SignReply> {
  try {
    return { chain: await handle({ options, policy, seen }, parseConfig(SignRequestSchema, body(), 'signing request')) };
  } catch (cause) {
    const refused = isMeridianError(cause) ? cause : new MeridianError('MERIDIAN_ERR_CSR_INVALID', 'malformed signing request', { cause });
    options.onRefused?.(refused);
    return { error: { code: refused.code, message: refused.message } };
  }
}

/** How long the signer waits for a just-registered instance to reach its view of the site. */
const REGISTRATION_GRACE_MS = 3000;

async function runsOnNode(catalog: CatalogReader, identity: SpiffeId, node: string): Promise<boolean> {
  const deadline = Date.now() + REGISTRATION_GRACE_MS;
  for (;;) {
    if (catalog.query({ service: identity.name, site: identity.site }).some((e) => e.instance.node === node)) return true;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    await catalog.waitForChange(catalog.revision, remaining);
  }
}

/** What one request is handled with. */
interface SignerState {
  readonly options: SignerOptions;
  readonly policy: LivePolicy;
  readonly seen: ProofLedger;
}

async function handle(state: SignerState, request: SignRequest): Promise<string> {
  const { options, seen } = state;
  const now = options.now?.() ?? Date.now();
  const { caller, leaf } = authenticateCaller(options, request, now);
  assertLeafNotRevoked(state.policy, leaf, caller.uri, 'agentChain');
  const requested = parseCsr(request.csr).requested.uris;
  const identity = requested.length === 1 ? parseSpiffeId(requested[0] ?? '', options.authority.trustDomain) : undefined;
  if (identity === undefined || identity.kind === 'site') {
    throw new MeridianError('MERIDIAN_ERR_CSR_INVALID', 'csr.subjectAltName: must request exactly one workload (svc) identity or the caller\'s own identity');
  }
  assertIdentityNotRevoked(state.policy, identity.uri, now, 'csr.subjectAltName');
  let ttlMs = options.ttlMs;
  if (identity.kind === 'svc') {
    if (caller.kind !== 'agent') throw new MeridianError('MERIDIAN_ERR_SITE_SCOPE', `agentChain: ${caller.uri} is not an agent; only agents get workload identities`);
    if (!(await runsOnNode(options.catalog, identity, caller.name))) {
      throw new MeridianError('MERIDIAN_ERR_SITE_SCOPE', `agent ${caller.uri} runs no instance of ${identity.name}; it cannot get ${identity.uri}`);
    }
  } else if (identity.uri === caller.uri) {
    ttlMs = options.roleTtlMs;
  } else {
    throw new MeridianError('MERIDIAN_ERR_SITE_SCOPE', `csr.subjectAltName: ${caller.uri} may renew only its own identity; it cannot get ${identity.uri}`);
  }
  // Checked last, so a refused request does not use up its proof; recorded before issuing, so two concurrent copies cannot both pass.
  seen.claim(request.proof, now);
  const issued = options.authority.issue({ csr: request.csr, now: new Date(now), ...(ttlMs === undefined ? {} : { ttlMs }) });
  options.onIssued?.(caller, issued.identity);
  return chainToPem(issued.chain);
}

/** The caller: an agent or gateway of this site whose certificate is valid now and whose key signed the request. */
function authenticateCaller(options: SignerOptions, request: SignRequest, now: number): { caller: SpiffeId; leaf: X509Certificate } {
  const [leaf, ...intermediates] = parseCertificates(request.agentChain, 'agentChain');
  if (leaf === undefined) throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', 'agentChain: empty');
  const caller = verifyPeer({ leaf, intermediates }, options.authority.bundle, 'client', new Date(now));
  if ((caller.kind !== 'agent' && caller.kind !== 'gateway') || caller.site !== options.authority.site) {
    throw new MeridianError('MERIDIAN_ERR_SITE_SCOPE', `agentChain: ${caller.uri} is not an agent or gateway of site ${options.authority.site}`);
  }
  const at = Date.parse(request.at);
  if (!Number.isFinite(at) || Math.abs(now - at) > REPLAY_WINDOW_MS) {
    throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', `at: request time ${request.at} is outside the ${REPLAY_WINDOW_MS / 1000} s window`);
  }
  if (!verifyProof(leaf, request)) throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', `proof: does not verify with the key of ${caller.uri}`);
  return { caller, leaf };
}

/** Proofs accepted within the replay window: a captured request sent again is refused. */
class ProofLedger {
  readonly #seen = new Map<string, number>();

  claim(proof: string, now: number): void {
    for (const [known, at] of this.#seen) {
      if (now - at <= 2 * REPLAY_WINDOW_MS) break;
      this.#seen.delete(known);
    }
    if (this.#seen.has(proof)) throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', 'proof: already used; every request needs a fresh proof');
    this.#seen.set(proof, now);
  }
}
