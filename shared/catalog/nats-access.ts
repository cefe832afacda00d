import { hkdfSync, type KeyObject } from 'node:crypto';
import type { ConnectionOptions } from '@nats-io/transport-node';
import { liveClientOptions, mtlsClientOptions, type MtlsIdentity, type SpiffeId } from '../identity/index.js';
import { bucketName, statusBucketName } from './layout.js';

/** The NATS user of a site: every agent of the site connects as it. */
export function siteNatsUser(site: string): string {
  return `site-${site}`;
}

/** The NATS user of a site's control service (certificate signer, lease reaper). */
export function controlNatsUser(site: string): string {
  return `control-${site}`;
}

/** Subject of a site's certificate signer: agents request, the control service answers. */
export function signerSubject(site: string): string {
  return `meridian.ca.${site}.sign`;
}

/**
 * A site's NATS password, derived from the site CA's private key: only the site's control plane
 * (which holds that key) can compute it, and it changes when the site CA is re-keyed.
 */
export function deriveSiteNatsPassword(siteCaKey: KeyObject, trustDomain: string, site: string, user: 'agent' | 'control' = 'agent'): string {
  const secret = siteCaKey.export({ type: 'pkcs8', format: 'der' });
  const info = user === 'agent' ? `meridian/nats/${site}` : `meridian/nats-control/${site}`;
  return Buffer.from(hkdfSync('sha256', secret, trustDomain, info, 32)).toString('base64url');
}

/**
 * The nats-server `authorization` block of a site: its user may read every site's catalog and
 * status reports but write only its own buckets (NATS enforces it on the subject, before anything reaches JetStream).
 * NATS wildcards match whole tokens only, hence the generic `*` on read-only API subjects.
 */
export function siteAuthorizationConfig(site: string, passwords: { agent: string; control: string }): string {
  // The catalog and the status reports: each site writes only its own buckets of both.
  const buckets = [bucketName(site), statusBucketName(site)];
  const publish = [
    ...buckets.flatMap((bucket) => [`$KV.${bucket}.>`, `$JS.API.STREAM.CREATE.KV_${bucket}`, `$JS.API.STREAM.UPDATE.KV_${bucket}`]),
    '$JS.API.INFO',
    '$JS.API.STREAM.NAMES',
    '$JS.API.STREAM.LIST',
    '$JS.API.STREAM.INFO.*',
    '$JS.API.STREAM.MSG.GET.*',
    '$JS.API.DIRECT.GET.*',
    '$JS.API.DIRECT.GET.*.>',
    '$JS.API.CONSUMER.CREATE.*',
    '$JS.API.CONSUMER.CREATE.*.>',
    '$JS.API.CONSUMER.INFO.*.*',
    '$JS.API.CONSUMER.DELETE.*.*',
    '$JS.FC.>',
  ];
  const list = (subjects: string[]): string => subjects.map((s) => JSON.stringify(s)).join(', ');
  const user = (name: string, password: string, pub: string[], sub: string[]): string =>
    `    { user: ${JSON.stringify(name)}, password: ${JSON.stringify(password)},\n      permissions: { publish: { allow: [${list(pub)}] }, subscribe: { allow: [${list(sub)}] } } }`;
  return [
    'authorization {',
    '  users: [',
    user(siteNatsUser(site), passwords.agent, [...publish, signerSubject(site)], ['_INBOX.>']),
    user(controlNatsUser(site), passwords.control, [...publish, '_INBOX.>'], ['_INBOX.>', signerSubject(site)]),
    '  ]',
    '}',
  ].join('\n');
}

/**
 * nats.js options for an agent of `site`: the site's user, and mTLS where the server must present
 * the site's `nats` identity (checked as a SPIFFE ID, not a host name).
 */
export function siteConnectOptions(options: {
  servers: string;
  site: string;
  password: string;
  /** Which site user to connect as (default the agents' user). */
  user?: 'agent' | 'control';
  /** The client identity; a function (e.g. `() => live.current`) makes every reconnect present the identity of that moment. */
  identity: MtlsIdentity | (() => MtlsIdentity);
  name?: string;
  /** The site whose server is dialled; default `site`. */
  serverSite?: string;
}): ConnectionOptions {
  const serverSite = options.serverSite ?? options.site;
  const expect = (peer: SpiffeId): boolean => peer.site === serverSite && peer.kind === 'svc' && peer.name === 'nats';
  const tls = typeof options.identity === 'function' ? liveClientOptions(options.identity, expect) : mtlsClientOptions(options.identity, expect);
  return {
    servers: options.servers,
    user: options.user === 'control' ? controlNatsUser(options.site) : siteNatsUser(options.site),
    pass: options.password,
    name: options.name ?? `meridian-${options.site}`,
    tls,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  };
}
