/**
 * Join test support: a joining node's agent config (credentials not written yet), and a raw
 * HTTPS client of the join endpoint that can pick its source address (rate limits are per address).
 */
import { request } from 'node:https';
import { join } from 'node:path';
import type { AgentConfig } from '../../agent/index.js';
import type { SecureSite } from './secure-site.js';

/** An agent config of a node that has not joined yet: its credential files are under `<dir>/<node>/credentials`. */
export function joiningAgentConfig(site: SecureSite, node: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  const credentials = join(site.dir, node, 'credentials');
  return {
    site: site.site,
    region: `region-${site.site}`,
    zone: `${site.site}-a`,
    platform: 'vm',
    node,
    nats: {
      url: site.nats.url,
      passwordFile: join(credentials, 'nats-password'),
      keyFile: join(credentials, 'agent.key'),
      certFile: join(credentials, 'agent.crt'),
      bundleFile: join(credentials, 'bundle.pem'),
      trustDomain: site.pki.trustDomain(),
    },
    api: { host: '127.0.0.1', port: 0 },
    dataDir: join(site.dir, node, 'data'),
    heartbeat: '500ms',
    leaseTtl: '3s',
    staleAfter: '3s',
    ...overrides,
  };
}

/** What the join endpoint answered. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: { code?: string; message?: string; chain?: string; natsPassword?: string };
}

/** POSTs `body` (a string is sent as is) to the join endpoint, trusting the site's bundle. */
export function postJoinRaw(url: string, body: unknown, options: { bundle: string; localAddress?: string; contentType?: string }): Promise<RawAnswer> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/join`,
      {
        method: 'POST',
        ca: options.bundle,
        // The server is the site's control service: its SPIFFE identity, not a host name.
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.3',
        headers: { 'content-type': options.contentType ?? 'application/json', 'content-length': Buffer.byteLength(payload) },
        agent: false,
        timeout: 10_000,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as RawAnswer['body'] });
          } catch {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: { message: text } });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('join request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
