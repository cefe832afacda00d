import type { ConnectionOptions } from '@nats-io/transport-node';
import { liveClientOptions, mtlsClientOptions, type MtlsIdentity, type SpiffeId } from '../identity/index.js';
import { trustBucketName } from '../identity/trust-document.js';
import { bucketName, joinBucketName, kvStreamName, statusBucketName } from './layout.js';
import { POLICY_STREAM, POLICY_SUBJECT, policyMirrorName } from '../policy/distribution/layout.js';

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

export { deriveSiteNatsPassword } from '../identity/nats-password.js';

/**
 * The nats-server `authorization` block of a site: its user may read every site's catalog and
 * status reports but write only its own buckets (NATS enforces it on the subject, before anything
 * reaches JetStream); the site's trust document is written by its control user only. The policy
 * set likewise: only control users publish versions and create the policy streams; agents and
 * gateways read the site's mirror (stream info, message get, an ordered consumer's pulls).
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
  // The trust document: only the control service writes it; agents and gateways read it like any bucket.
  const trust = kvStreamName(trustBucketName(site));
  const controlOnly = [`$KV.${trustBucketName(site)}.>`, `$JS.API.STREAM.CREATE.${trust}`, `$JS.API.STREAM.UPDATE.${trust}`];
  const policy = policyAccess(site);
  const list = (subjects: string[]): string => subjects.map((s) => JSON.stringify(s)).join(', ');
  const user = (name: string, password: string, pub: string[], sub: string[], denyPub: string[] = []): string =>
    `    { user: ${JSON.stringify(name)}, password: ${JSON.stringify(password)},\n      permissions: { publish: { allow: [${list(pub)}]${denyPub.length === 0 ? '' : `, deny: [${list(denyPub)}]`} }, subscribe: { allow: [${list(sub)}] } } }`;
  const join = joinBucket(site);
  return [
    'authorization {',
    '  users: [',
    user(siteNatsUser(site), passwords.agent, [...publish, ...policy.read, signerSubject(site)], ['_INBOX.>'], join.read),
    user(controlNatsUser(site), passwords.control, [...publish, ...controlOnly, ...join.write, ...policy.read, ...policy.write, '_INBOX.>'], ['_INBOX.>', signerSubject(site)]),
    '  ]',
    '}',
  ].join('\n');
}

/** The policy streams' subjects: control users publish versions and create the streams; everyone of the site pulls from its mirror. */
function policyAccess(site: string): { write: string[]; read: string[] } {
  const mirror = policyMirrorName(site);
  return {
    write: [POLICY_SUBJECT, ...[POLICY_STREAM, mirror].flatMap((stream) => [`$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`])],
    read: [`$JS.API.CONSUMER.MSG.NEXT.${mirror}.*`],
  };
}

/**
 * The join-token bucket's subjects: the control user writes them; the agents' generic read-only
 * API subjects are denied for it, so a site's agents cannot even list its tokens' ids and bindings.
 */
function joinBucket(site: string): { write: string[]; read: string[] } {
  const bucket = joinBucketName(site);
  const stream = kvStreamName(bucket);
  return {
    write: [`$KV.${bucket}.>`, `$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`],
    read: [
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}.>`,
      `$JS.API.CONSUMER.CREATE.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.INFO.${stream}.*`,
    ],
  };
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
