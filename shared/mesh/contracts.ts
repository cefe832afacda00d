import type { Duplex } from 'node:stream';

/**
 * Data-plane contracts shared by the agent proxies and the east-west gateway.
 *
 * Path of a cross-site call:
 *   app ─plain─▶ agent outbound ─▶ [TLS 1.3 as the calling workload, nested] ────────────────────▶ agent inbound ─▶ app
 *                               └▶ CONNECT stream ─▶ gateway A ═ HTTP/2 CONNECT over mTLS ═▶ gateway B ─▶ TCP ─┘
 * The workload's own TLS session runs end to end inside the CONNECT streams, so the gateways only
 * ever see ciphertext and cannot forge the caller's identity.
 */

/** A host and port to dial or listen on (IPv4, IPv6 or a host name). */
export interface GatewayAddress {
  readonly address: string;
  readonly port: number;
}

/** The instance a stream is for. */
export interface MeshTarget {
  readonly site: string;
  readonly service: string;
  readonly instanceId: string;
}

/** ALPN of a nested session: HTTP/2 (also gRPC), HTTP/1.1, or an opaque TCP byte stream. */
export type MeshAlpn = 'h2' | 'http/1.1' | 'meridian-tcp';

/** TLS SNI of the nested session: names the destination service (a DNS label set, not the SPIFFE ID). */
export function meshServerName(service: string): string {
  return `${service}.svc.meridian`;
}

/** The `:authority` of a CONNECT request for `target`; the instance goes in {@link TARGET_INSTANCE_HEADER}. */
export function connectAuthority(target: MeshTarget): string {
  return `${target.service}.${target.site}.mesh:443`;
}

export const TARGET_INSTANCE_HEADER = 'meridian-target-instance';

/** Headers that carry a caller's identity: stripped from anything a client sends, set only by the inbound proxy. */
export const IDENTITY_HEADERS = ['x-meridian-caller', 'x-forwarded-client-cert', 'x-meridian-caller-site', 'x-meridian-caller-service'] as const;

/** The verified caller identity header the destination app receives. */
export const CALLER_HEADER = 'x-meridian-caller';

/** Opens a byte stream to a target instance's mesh (inbound) port: directly, or through the gateways. */
export interface MeshDialer {
  dial(target: MeshTarget, signal?: AbortSignal): Promise<Duplex>;
}

/** The service name east-west gateways register under in the catalog, with a `tunnel` port. */
export const GATEWAY_SERVICE = 'meridian-gateway';
