import { optionalString, requireString, type Command, type ParsedArgs } from './index.js';
import { MeridianError } from '../shared/errors/index.js';
import { PkiDirectory } from '../shared/identity/index.js';
import { DEFAULT_PKI_DIR, parseDuration } from '../shared/config/index.js';
import { renderTable } from '../shared/text/index.js';
import { loadSiteConfig } from '../services/site/config.js';
import { createJoinToken, listJoinTokens, openJoinStore, revokeJoinToken, type TokenRecord } from '../services/site/join/index.js';

export const WHERE = '--site <S> [--config site.json | --dir <pki dir> --nats <url>]';
export const whereOptions = { site: { type: 'string' }, config: { type: 'string' }, dir: { type: 'string' }, nats: { type: 'string' } } as const;

/** The site's PKI dir and NATS URL: from the site config, or the flags (flags win); `meridian policy` and `revoke` use it too. */
export function siteAccess(args: ParsedArgs, command: Command): { pki: PkiDirectory; site: string; natsUrl: string } {
  const site = requireString(args, 'site', command);
  const file = optionalString(args, 'config');
  const config = file === undefined ? undefined : loadSiteConfig(file);
  if (config !== undefined && config.site !== site) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--site ${site}: ${file} is the config of site ${config.site}`);
  }
  const natsUrl = optionalString(args, 'nats') ?? config?.nats.url;
  if (natsUrl === undefined) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--nats <url> or --config <site.json> is required\nusage: ${command.usage}`);
  return { pki: new PkiDirectory(optionalString(args, 'dir') ?? config?.pkiDir ?? DEFAULT_PKI_DIR), site, natsUrl };
}

async function withStore<T>(args: ParsedArgs, command: Command, use: (kv: Awaited<ReturnType<typeof openJoinStore>>['kv'], site: string, pki: PkiDirectory) => Promise<T>): Promise<T> {
  const access = siteAccess(args, command);
  const store = await openJoinStore(access);
  try {
    return await use(store.kv, access.site, access.pki);
  } finally {
    await store.close();
  }
}

const create: Command = {
  group: 'token',
  name: 'create',
  summary: 'create a single-use join token for a node of a site (printed on stdout, stored hashed)',
  usage: `meridian token create ${WHERE} [--ttl 15m] [--node <node>]   (--ttl at most 24h)`,
  options: { ...whereOptions, ttl: { type: 'string', default: '15m' }, node: { type: 'string' } },
  async run(args, io) {
    const ttlMs = parseDuration(optionalString(args, 'ttl') ?? '15m', '--ttl');
    const node = optionalString(args, 'node');
    const { text, record } = await withStore(args, create, (kv, site, pki) =>
      createJoinToken(kv, { site, siteCa: pki.loadSiteCertificate(site), ttlMs, ...(node === undefined ? {} : { node }) }),
    );
    io.out(text);
    io.err(`token ${record.id} for site ${record.site}${record.node === undefined ? '' : `, node ${record.node} only`}: single use, expires at ${record.expiresAt}`);
    return 0;
  },
};

function state(record: TokenRecord, now: number): string {
  if (record.usedAt !== undefined) return `used by ${record.usedBy ?? '?'} at ${record.usedAt}`;
  return Date.parse(record.expiresAt) <= now ? 'expired' : 'valid';
}

const list: Command = {
  group: 'token',
  name: 'list',
  summary: "list a site's join tokens (ids, node bindings, expiry, use; never the secrets)",
  usage: `meridian token list ${WHERE}`,
  options: whereOptions,
  async run(args, io) {
    const records = await withStore(args, list, (kv) => listJoinTokens(kv));
    const now = Date.now();
    io.out(renderTable(['ID', 'NODE', 'CREATED', 'EXPIRES', 'STATE'], records.map((r) => [r.id, r.node ?? '*', r.createdAt, r.expiresAt, state(r, now)])));
    return 0;
  },
};

const revoke: Command = {
  group: 'token',
  name: 'revoke',
  summary: 'revoke a join token by its id (the second field of the token, as token list shows it)',
  usage: `meridian token revoke <id> ${WHERE}`,
  options: whereOptions,
  async run(args, io) {
    const id = args.positionals[0];
    if (id === undefined) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a token id is required\nusage: ${revoke.usage}`);
    await withStore(args, revoke, (kv) => revokeJoinToken(kv, id));
    io.out(`token ${id} revoked`);
    return 0;
  },
};

/** `meridian token create/list/revoke`: join tokens, run on the control host (it holds the site CA). */
export const tokenCommands: readonly Command[] = [create, list, revoke];
