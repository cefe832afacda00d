import type { FederatedView, NodeContext } from '../../shared/catalog/index.js';
import type { MtlsIdentity } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { nodeMeshDialer } from './transport/mesh-dialer.js';
import { startInbound } from './inbound/listener.js';
import type { InboundProxy } from './inbound/types.js';
import type { FailoverRecord } from './outbound/balancer.js';
import { startOutbound } from './outbound/listener.js';
import type { OutboundProxy } from './outbound/types.js';
import type { RequestObserver } from './records.js';
import type { RateLimiter } from './ratelimit/limiter.js';
import type { WorkloadIdentities } from '../identity/index.js';
import type { LocalRegistration } from '../registration/index.js';
import { DEFAULT_DRAIN_MS } from '../../shared/config/index.js';
import { LivePolicy, type EncodedSlashAction } from '../../shared/policy/index.js';

/** What the data plane follows: this node's registrations, the federated view, the node's identities. */
export interface DataPlaneOptions {
  readonly node: NodeContext;
  readonly view: FederatedView;
  /** The agent's own identity now (read at every new gateway session). */
  readonly agentIdentity: () => MtlsIdentity;
  readonly identities: WorkloadIdentities;
  readonly registrations: () => readonly LocalRegistration[];
  readonly inbound: { readonly host: string; readonly port: number };
  readonly maxSessionAgeMs: number;
  /**
   * The policy set the inbound enforces (authorization, revocations) and the outbound pools
   * follow (sessions to revoked destinations close). Default: NO_POLICY, every verified workload allowed.
   */
  readonly policy?: LivePolicy;
  /** Request targets with `%2F` / `%5C`: refused with 400 (default) or kept encoded. */
  readonly encodedSlashes?: EncodedSlashAction;
  /** Enforces the policy's RateLimit documents at the inbound (default: local buckets only). */
  readonly rateLimiter?: RateLimiter;
  /** Receives every finished request of the node's proxies (telemetry). */
  readonly onRequest?: RequestObserver;
  readonly log: Logger;
}

/** The node's running proxies. */
export interface DataPlane {
  readonly inbound: InboundProxy;
  /** Outbound listeners by calling service. */
  outbound(): ReadonlyMap<string, OutboundProxy>;
  failovers(): FailoverRecord[];
  /** The workload identity each local service presents now. */
  identities(): ReadonlyMap<string, MtlsIdentity>;
  /** Brings listeners and identities in line with the registrations (call after each change). */
  sync(): Promise<void>;
  /** A workload identity was renewed: new sessions present it, open ones run on. */
  renewed(service: string, identity: MtlsIdentity): void;
  close(timeoutMs?: number): Promise<void>;
}

/** Starts the node's inbound listener; outbound listeners follow the registrations through `sync`. */
export async function startDataPlane(options: DataPlaneOptions): Promise<DataPlane> {
  const identities = new Map<string, MtlsIdentity>();
  const policy = options.policy ?? new LivePolicy();
  const local = (service: string): LocalRegistration | undefined => options.registrations().find((r) => r.instance.service === service);
  const inbound = await startInbound({
    host: options.inbound.host,
    port: options.inbound.port,
    identities,
    localServices: (service) => {
      const registration = local(service);
      const port = registration === undefined ? undefined : Object.values(registration.instance.ports)[0];
      if (registration === undefined || port === undefined) return undefined;
      const { address, protocol, exported } = registration.instance;
      return { address, port, protocol, exported: exported === true };
    },
    logger: options.log,
    policy,
    ...(options.encodedSlashes === undefined ? {} : { encodedSlashes: options.encodedSlashes }),
    ...(options.rateLimiter === undefined ? {} : { rateLimiter: options.rateLimiter }),
    ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
  });
  const dialer = nodeMeshDialer({ node: options.node, view: options.view, agentIdentity: options.agentIdentity });
  const outbound = new Map<string, OutboundProxy>();
  const sync = async (): Promise<void> => {
    const services = new Map(options.registrations().map((r) => [r.instance.service, r]));
    for (const [service, registration] of services) {
      if (!identities.has(service)) {
        const identity = await options.identities.get(service);
        identities.set(service, identity);
        inbound.setIdentity(service, identity);
      }
      const wanted = registration.definition.outbound;
      if (wanted !== undefined && !outbound.has(service)) {
        outbound.set(service, await startOutbound({
          service,
          identity: identities.get(service) ?? (await options.identities.get(service)),
          locality: { site: options.node.site, region: options.node.region },
          candidates: (target) => options.view.query({ service: target }),
          dialer,
          ...(wanted.http === undefined ? {} : { http: wanted.http }),
          upstreams: wanted.upstreams,
          maxSessionAgeMs: options.maxSessionAgeMs,
          policy,
          logger: options.log,
          ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
        }));
      }
    }
    for (const service of [...identities.keys()]) {
      if (services.has(service)) continue;
      identities.delete(service);
      inbound.removeService(service);
      options.identities.drop(service);
      await outbound.get(service)?.close();
      outbound.delete(service);
    }
  };
  return {
    inbound,
    outbound: () => outbound,
    failovers: () => [...outbound.values()].flatMap((o) => o.failovers()),
    identities: () => identities,
    sync,
    renewed(service, identity) {
      identities.set(service, identity);
      inbound.setIdentity(service, identity);
      outbound.get(service)?.setIdentity(identity);
    },
    async close(timeoutMs = DEFAULT_DRAIN_MS) {
      await Promise.all([inbound.close(timeoutMs), ...[...outbound.values()].map((o) => o.close(timeoutMs))]);
      dialer.close();
    },
  };
}
