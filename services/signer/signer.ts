import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Type } from '@sinclair/typebox';
import { parseConfig } from '../../shared/config/index.js';
import { type CatalogReader, signerSubject } from '../../shared/catalog/index.js';
import { MeridianError, isMeridianError } from '../../shared/errors/index.js';
import {
  REPLAY_WINDOW_MS,
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

const SignRequestSchema = Type.Object({
  csr: Type.String({ minLength: 1 }),
  agentChain: Type.String({ minLength: 1 }),
  at: Type.String({ minLength: 1 }),
  proof: Type.String({ minLength: 1 }),
});

/** What the signer needs: the site's CA, its catalog view (to check node ownership), and a leaf lifetime. */
export interface SignerOptions {
  readonly nc: NatsConnection;
  readonly authority: SiteAuthority;
  readonly catalog: CatalogReader;
  readonly ttlMs?: number;
  readonly now?: () => number;
  readonly onIssued?: (agent: SpiffeId, identity: SpiffeId) => void;
  readonly onRefused?: (error: MeridianError) => void;
}

/**
 * Serves workload certificate requests of the site's node agents. An agent gets the identity of
 * a service only when that service is registered on the agent's own node, so a compromised node
 * cannot mint identities of services it does not run.
 */
export function startSigner(options: SignerOptions): { stop(): void } {
  const subscription: Subscription = options.nc.subscribe(signerSubject(options.authority.site), {
    callback: (error, message) => {
      if (error !== null) return;
      void answer(options, () => message.json<unknown>()).then((reply) => message.respond(JSON.stringify(reply)));
    },
  });
  return { stop: () => subscription.unsubscribe() };
}

async function answer(options: SignerOptions, body: () => unknown): Promise<SignReply> {
  try {
    return { chain: await handle(options, parseConfig(SignRequestSchema, body(), 'signing request')) };
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

async function handle(options: SignerOptions, request: SignRequest): Promise<string> {
  const now = options.now?.() ?? Date.now();
  const agent = authenticateAgent(options, request, now);
  const requested = parseCsr(request.csr).requested.uris;
  const identity = requested.length === 1 ? parseSpiffeId(requested[0] ?? '', options.authority.trustDomain) : undefined;
  if (identity?.kind !== 'svc') {
    throw new MeridianError('MERIDIAN_ERR_CSR_INVALID', 'csr.subjectAltName: agents may request workload (svc) identities only');
  }
  if (!(await runsOnNode(options.catalog, identity, agent.name))) {
    throw new MeridianError('MERIDIAN_ERR_SITE_SCOPE', `agent ${agent.uri} runs no instance of ${identity.name}; it cannot get ${identity.uri}`);
  }
  const issued = options.authority.issue({ csr: request.csr, now: new Date(now), ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }) });
  options.onIssued?.(agent, issued.identity);
  return issued.chain.map((c) => c.toString()).join('');
}

function authenticateAgent(options: SignerOptions, request: SignRequest, now: number): SpiffeId {
  const [leaf, ...intermediates] = parseCertificates(request.agentChain, 'agentChain');
  if (leaf === undefined) throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', 'agentChain: empty');
  const agent = verifyPeer({ leaf, intermediates }, options.authority.bundle, 'client', new Date(now));
  if (agent.kind !== 'agent' || agent.site !== options.authority.site) {
    throw new MeridianError('MERIDIAN_ERR_SITE_SCOPE', `agentChain: ${agent.uri} is not an agent of site ${options.authority.site}`);
  }
  const at = Date.parse(request.at);
  if (!Number.isFinite(at) || Math.abs(now - at) > REPLAY_WINDOW_MS) {
    throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', `at: request time ${request.at} is outside the ${REPLAY_WINDOW_MS / 1000} s window`);
  }
  if (!verifyProof(leaf, request)) throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', `proof: does not verify with the key of ${agent.uri}`);
  return agent;
}
