import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A test CA and a server certificate for 127.0.0.1 it signed (PEM files in `dir`). */
export interface RedisTlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

function openssl(args: readonly string[], dir: string): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Generates, in `dir`, an EC P-256 CA and a server certificate for IP 127.0.0.1 (and `localhost`)
 * signed by it, valid a day: what a production Redis over TLS presents, made at test time.
 */
export function redisTlsFiles(dir: string): RedisTlsFiles {
  const ext = join(dir, 'redis-san.cnf');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'redis-ca.key', '-out', 'redis-ca.pem', '-days', '1', '-subj', '/CN=meridian test redis CA'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'redis.key', '-out', 'redis.csr', '-subj', '/CN=127.0.0.1'], dir);
  openssl(['x509', '-req', '-in', 'redis.csr', '-CA', 'redis-ca.pem', '-CAkey', 'redis-ca.key', '-CAcreateserial', '-out', 'redis.pem', '-days', '1', '-extfile', ext], dir);
  return { caFile: join(dir, 'redis-ca.pem'), certFile: join(dir, 'redis.pem'), keyFile: join(dir, 'redis.key') };
}
