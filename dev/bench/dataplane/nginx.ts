import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootAuthority, createSiteAuthority, issueLocalIdentity, privateKeyToPem } from '../../../shared/identity/index.js';
import { findBinary, freePort } from '../../../test/support/servers/index.js';
import { startProcess, type BenchProcess } from './processes.js';

const READY_TIMEOUT_MS = 5_000;
/** The back proxy's certificate name: the front proxy verifies it (nginx matches the CN, as the certificate has no DNS SAN). */
const BACK_NAME = 'nginx-back';

/** The baseline proxy pair: nginx #1 (plain HTTP in, mTLS out) and nginx #2 (mTLS in, plain HTTP to the app). */
export interface NginxPair {
  /** nginx #1's plain HTTP port. */
  readonly port: number;
  readonly front: BenchProcess;
  readonly back: BenchProcess;
  /** The configuration, for the report. */
  readonly summary: string;
  /** Stops both by PID and removes the temp dir. */
  stop(): Promise<void>;
}

/** Certificates from the project's PKI (ECDSA P-256, as the mesh uses), written as PEM files into `dir`. */
function writeCertificates(dir: string): void {
  const root = createRootAuthority({ trustDomain: 'nginx.bench' });
  const { authority } = createSiteAuthority(root, 'bench');
  writeFileSync(join(dir, 'bundle.pem'), root.certificate.toString());
  for (const name of ['nginx-front', BACK_NAME]) {
    const issued = issueLocalIdentity(authority, 'svc', name);
    // nginx sends the whole file as the chain: the leaf, then the site CA (the root is the trust anchor).
    writeFileSync(join(dir, `${name}.crt`), issued.chain.map((c) => c.toString()).join(''));
    writeFileSync(join(dir, `${name}.key`), privateKeyToPem(issued.privateKey), { mode: 0o600 });
  }
}

/** What both configurations share: one worker, no access log, temp paths inside the prefix, long keep-alive. */
function common(name: string, body: string): string {
  return `worker_processes 1;
pid ${name}.pid;
error_log ${name}-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path tmp-${name}/body;
  proxy_temp_path tmp-${name}/proxy;
  fastcgi_temp_path tmp-${name}/fastcgi;
  uwsgi_temp_path tmp-${name}/uwsgi;
  scgi_temp_path tmp-${name}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
${body}
}
`;
}

/** Upstream keep-alive: HTTP/1.1 with the Connection header cleared, idle connections cached, no per-connection request cap. */
function upstream(name: string, port: number): string {
  return `  upstream ${name} { server 127.0.0.1:${port}; keepalive 64; keepalive_requests 1000000; keepalive_timeout 120s; }`;
}

function frontConfig(port: number, backPort: number): string {
  return common(
    'front',
    `${upstream('back', backPort)}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass https://back;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate nginx-front.crt;
      proxy_ssl_certificate_key nginx-front.key;
      proxy_ssl_trusted_certificate bundle.pem;
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 2;
      proxy_ssl_name ${BACK_NAME};
      proxy_ssl_session_reuse on;
    }
  }`,
  );
}

function backConfig(port: number, appPort: number): string {
  return common(
    'back',
    `${upstream('app', appPort)}
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${BACK_NAME}.crt;
    ssl_certificate_key ${BACK_NAME}.key;
    ssl_client_certificate bundle.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
}

/** Resolves once `port` accepts a TCP connection, polling every 20 ms up to a bound. */
async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function startNginx(binary: string, dir: string, name: string, port: number): Promise<BenchProcess> {
  mkdirSync(join(dir, `tmp-${name}`));
  // Single-process mode: the one process is the worker, so /proc/<pid> is the proxy's whole cost.
  const { process } = await startProcess({
    name: `nginx-${name}`,
    command: binary,
    args: ['-p', `${dir}/`, '-e', join(dir, `${name}-error.log`), '-c', join(dir, `${name}.conf`), '-g', 'daemon off; master_process off;'],
    ready: /^/,
    timeoutMs: READY_TIMEOUT_MS,
  });
  try {
    await listening(port, READY_TIMEOUT_MS);
  } catch (error) {
    await process.stop('SIGKILL');
    throw new Error(`${(error as Error).message}\n${process.output()}`);
  }
  return process;
}

/** Starts the nginx mTLS pair in front of the app on `appPort`; throws MERIDIAN_ERR_BINARY_MISSING without nginx. */
export async function startNginxPair(appPort: number): Promise<NginxPair> {
  const binary = findBinary('nginx');
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-nginx-'));
  const started: BenchProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(started.map((p) => p.stop('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    writeCertificates(dir);
    const [port, backPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'front.conf'), frontConfig(port, backPort));
    writeFileSync(join(dir, 'back.conf'), backConfig(backPort, appPort));
    const back = await startNginx(binary, dir, 'back', backPort);
    started.push(back);
    const front = await startNginx(binary, dir, 'front', port);
    started.push(front);
    const summary =
      'nginx x2, each one process (master_process off, worker_processes 1), access_log off; #1 plain HTTP listener -> proxy_pass https with client cert (TLS 1.3, proxy_ssl_verify on) -> ' +
      '#2 TLS 1.3 listener, ssl_verify_client on -> app; both upstreams keepalive 64 with proxy_http_version 1.1, keepalive_requests 1e6; ECDSA P-256 certs from the project PKI';
    return { port, front, back, summary, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
