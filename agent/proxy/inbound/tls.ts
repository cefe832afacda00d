import { constants } from 'node:crypto';
import tls, { type SecureContext } from 'node:tls';
import { MeridianError } from '../../../shared/errors/index.js';
import { mtlsContextOptions, ownIdentity, type MtlsIdentity } from '../../../shared/identity/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';
import { DNS_LABEL_PATTERN } from '../../../shared/text/index.js';

/** The protocols the inbound listener speaks, in its order of preference. */
export const INBOUND_ALPN = ['h2', 'http/1.1', 'meridian-tcp'] as const;

/**
 * No TLS session tickets: every connection is a full handshake, so its caller's leaf is verified
 * and checked against the revocations now in force. A resumed session would carry the caller
 * over from a handshake made before a revocation; without a ticket or a session cache (Node
 * keeps none unless asked) the server has nothing to resume from, and the client falls back to
 * a full handshake instead of failing.
 */
export const NO_RESUMPTION = constants.SSL_OP_NO_TICKET;

/** A local service's identity and the TLS context built from it. */
export interface ServiceIdentity {
  readonly service: string;
  /** The site the identity belongs to: callers of other sites reach only exported services. */
  readonly site: string;
  readonly identity: MtlsIdentity;
  readonly context: SecureContext;
}

const SERVICE_LABEL = DNS_LABEL_PATTERN;

/**
 * One TLS identity per local service, chosen by the client's SNI (`meshServerName(service)`).
 * Replacing an entry affects new handshakes only: a TLS session keeps the context it started
 * with, so renewal never drops a connection.
 */
export class SniContexts {
  private readonly byServerName = new Map<string, ServiceIdentity>();

  constructor(identities: ReadonlyMap<string, MtlsIdentity>) {
    for (const [service, identity] of identities) this.set(service, identity);
  }

  set(service: string, identity: MtlsIdentity): void {
    if (!SERVICE_LABEL.test(service)) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `inbound: service name "${service}" is not a lower-case DNS label`);
    }
    // Checked as a peer would check it, so a wrong credential fails here and not at a handshake.
    const { site } = ownIdentity(identity, `inbound: identity of service "${service}"`, 'svc');
    // Includes the trust bundle as CA and TLS 1.3 only: client certificates are verified
    // against the context the SNI selected.
    const context = tls.createSecureContext({ ...mtlsContextOptions(identity), secureOptions: NO_RESUMPTION });
    this.byServerName.set(meshServerName(service), { service, site, identity, context });
  }

  remove(service: string): void {
    this.byServerName.delete(meshServerName(service));
  }

  /** The service a handshake's SNI selected; undefined for an unknown or absent SNI. */
  lookup(serverName: string | false | undefined | null): ServiceIdentity | undefined {
    return typeof serverName === 'string' ? this.byServerName.get(serverName.toLowerCase()) : undefined;
  }

  /** The server's SNICallback: an unknown name fails the handshake, so no default identity leaks. */
  readonly callback = (serverName: string, done: (error: Error | null, context?: SecureContext) => void): void => {
    const entry = this.lookup(serverName);
    if (entry === undefined) done(new MeridianError('MERIDIAN_ERR_SERVICE_NOT_LOCAL', `no local service for SNI "${serverName}"`));
    else done(null, entry.context);
  };
}

/** The server's ALPNCallback: our preference among what the client offers; none in common fails the handshake. */
export function selectAlpn({ protocols }: { protocols: string[] }): string | undefined {
  return INBOUND_ALPN.find((protocol) => protocols.includes(protocol));
}
