import type { ServerHttp2Stream } from 'node:http2';
import { MeridianError } from '../shared/errors/index.js';
import type { MtlsIdentity } from '../shared/identity/index.js';
import type { EnforcedPolicy } from '../shared/policy/index.js';
import { type MeshTarget, abortStream, pipe, REASON_HEADER, refuseWithError } from '../shared/mesh/index.js';
import { TunnelLink } from './link.js';
import type { ResolvedGatewayOptions } from './options.js';
import type { LinkStatus } from './types.js';

/**
 * The tunnels of one gateway, one per remote site, dialled when the gateway process probes the
 * site (as soon as the catalog names its gateway) or on a first stream, and kept until drain.
 */
export class LinkRegistry {
  readonly #links = new Map<string, TunnelLink>();
  readonly #options: ResolvedGatewayOptions;
  readonly #identity: () => MtlsIdentity;
  #closed = false;

  constructor(options: ResolvedGatewayOptions, identity: () => MtlsIdentity) {
    this.#options = options;
    this.#identity = identity;
  }

  /** The tunnel to `site`, dialling it now if it is the first probe or stream there. */
  get(site: string): TunnelLink {
    if (this.#closed) throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', 'the gateway is draining');
    const existing = this.#links.get(site);
    if (existing !== undefined) return existing;
    // No tunnel (and no retry loop) for a site nobody can name a gateway for.
    if (this.#options.resolver.gatewayFor(site) === undefined) {
      throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `no gateway known for site ${site}`);
    }
    const link = new TunnelLink({ site, identity: this.#identity, options: this.#options });
    this.#links.set(site, link);
    link.start();
    return link;
  }

  statuses(): LinkStatus[] {
    return [...this.#links.values()].map((link) => link.status());
  }

  /** Cuts the sessions of every tunnel whose remote gateway `policy` revokes (see {@link TunnelLink.revoke}). */
  revoke(policy: EnforcedPolicy): void {
    for (const link of this.#links.values()) link.revoke(policy);
  }

  /** Stops every tunnel (see {@link TunnelLink.close}). */
  close(graceful: boolean): Promise<void> {
    this.#closed = true;
    return Promise.all([...this.#links.values()].map((link) => link.close(graceful))).then(() => undefined);
  }
}

/**
 * Forwards an agent's CONNECT stream to the target site's gateway over the tunnel, answers the
 * agent with the remote gateway's status and reason, and relays the bytes (a refusal's body too).
 */
export async function routeRemote(stream: ServerHttp2Stream, target: MeshTarget, links: LinkRegistry, timeoutMs: number): Promise<void> {
  const callerGone = new AbortController();
  const onClose = (): void => callerGone.abort(new MeridianError('MERIDIAN_ERR_UNAVAILABLE', 'caller closed the stream'));
  stream.once('close', onClose);
  let link: TunnelLink;
  let answer;
  try {
    link = links.get(target.site);
    answer = await link.open(target, timeoutMs, callerGone.signal);
  } catch (error) {
    refuseWithError(stream, error);
    return;
  } finally {
    stream.off('close', onClose);
  }
  if (stream.destroyed || stream.closed) {
    abortStream(answer.stream);
    return;
  }
  stream.respond({ ':status': answer.status, ...(answer.reason === undefined ? {} : { [REASON_HEADER]: answer.reason }) });
  const tunnel = link;
  await pipe(stream, answer.stream, { aToB: (n) => tunnel.countOut(n), bToA: (n) => tunnel.countIn(n) });
}
