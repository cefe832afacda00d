/**
 * The catalog.scale baseline, run as its own process so its memory is measured like the agent's:
 * a plain nats.js client (TLS with the site's credential, no Meridian code loaded) that watches
 * every site's bucket and counts distinct instance keys. It prints `START` once its modules are
 * loaded, `DONE <count>` when it has them all, then keeps its watches open until killed (or its
 * time bound passes).
 */
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

/** What the parent passes in MERIDIAN_BENCH_COUNT (JSON). */
export interface CountChildConfig {
  url: string;
  user: string;
  password: string;
  certFile: string;
  keyFile: string;
  caFile: string;
  buckets: string[];
  total: number;
  maxMs: number;
}

async function main(config: CountChildConfig): Promise<void> {
  // The server's identity is a SPIFFE URI, not a host name: trust the bundle, skip the name check.
  const tls = { certFile: config.certFile, keyFile: config.keyFile, caFile: config.caFile, checkServerIdentity: () => undefined };
  const nc = await connect({ servers: config.url, user: config.user, pass: config.password, tls });
  const bound = setTimeout(() => process.exit(3), config.maxMs);
  process.once('SIGTERM', () => {
    clearTimeout(bound);
    void nc.close().finally(() => process.exit(0));
  });
  const kvm = new Kvm(jetstream(nc));
  const seen = new Set<string>();
  let done = false;
  await Promise.all(
    config.buckets.map(async (bucket) => {
      const watch = await (await kvm.open(bucket)).watch();
      void (async () => {
        for await (const entry of watch) {
          if (!entry.key.startsWith('svc.')) continue;
          if (entry.operation === 'PUT') seen.add(`${bucket}/${entry.key}`);
          else seen.delete(`${bucket}/${entry.key}`);
          if (!done && seen.size >= config.total) {
            done = true;
            process.stdout.write(`DONE ${seen.size}\n`);
          }
        }
      })();
    }),
  );
}

process.stdout.write('START\n');
const raw = process.env.MERIDIAN_BENCH_COUNT;
if (raw === undefined) {
  process.stderr.write('MERIDIAN_BENCH_COUNT is not set\n');
  process.exit(2);
}
main(JSON.parse(raw) as CountChildConfig).catch((error: unknown) => {
  process.stderr.write(`count-child: ${(error as Error).message}\n`);
  process.exit(1);
});
