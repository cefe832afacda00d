import { existsSync, readFileSync } from 'node:fs';
import type { X509Certificate } from 'node:crypto';
import { MeridianError } from '../../shared/errors/index.js';
import {
  DEFAULT_LEAF_TTL_MS,
  chainToPem,
  issueLocalIdentity,
  parseCertificates,
  privateKeyToPem,
  renewalDueAt,
  type RenewalPolicy,
  writeFileAtomic,
  type SiteAuthority,
} from '../../shared/identity/index.js';
import type { Logger } from '../../shared/telemetry/index.js';

/** The files of the site's nats-server config the control service manages (config `natsServer`). */
export interface NatsServerFiles {
  /** nats-server's `tls.cert_file` (written 0644, chain: leaf then site CA). */
  readonly certFile: string;
  /** nats-server's `tls.key_file` (written 0600). */
  readonly keyFile: string;
  /** nats-server's `pid_file`: the reload signal (SIGHUP) goes to the pid it names. */
  readonly pidFile: string;
  /** nats-server's `tls.ca_file`: rewritten with the trust bundle when it changes; absent: not managed. */
  readonly caFile?: string;
  /** Lifetime of the server certificate. Default 24 h. */
  readonly ttlMs?: number;
}

/** Options of {@link keepNatsServerCertificate}. */
export interface NatsServerCertificateOptions extends NatsServerFiles {
  readonly site: string;
  readonly renewal?: RenewalPolicy;
  /** The site CA to issue with, as of now (it changes when `meridian ca site --renew` replaced it). */
  readonly authority: () => SiteAuthority;
  readonly log: Logger;
}

/** A running nats-server certificate keeper. */
export interface NatsServerCertificateKeeper {
  /** Re-issues now (the site CA or the bundle changed) and reloads nats-server. */
  renew(reason: string): void;
  /** The certificate nats-server was last told to load. */
  readonly certificate: X509Certificate | undefined;
  stop(): void;
}

const RETRY_MS = 10_000;
/** setTimeout's longest delay (about 24.8 days); a later renewal is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Keeps the site's nats-server certificate (`spiffe://<td>/site/<site>/svc/nats`) renewed: at
 * half-life plus jitter, and whenever the site CA or the trust bundle changed. Key and chain (and
 * the CA file) are replaced atomically, then nats-server is sent SIGHUP, which makes it reload its
 * TLS configuration without dropping connected clients. A failure is logged and retried in 10 s.
 */
export function keepNatsServerCertificate(options: NatsServerCertificateOptions): NatsServerCertificateKeeper {
  let certificate = currentCertificate(options);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const arm = (delayMs: number): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => (Date.now() >= dueAt() ? renew('half of its lifetime passed') : arm(dueAt() - Date.now())), Math.min(Math.max(delayMs, 0), MAX_TIMER_MS));
    timer.unref();
  };
  const dueAt = (): number => (certificate === undefined ? 0 : renewalDueAt(certificate, options.renewal).getTime());
  const renew = (reason: string): void => {
    if (stopped) return;
    try {
      certificate = issueAndReload(options);
      options.log.info('nats-server certificate renewed and reloaded', { site: options.site, reason, expires: new Date(certificate.validTo).toISOString() });
      arm(dueAt() - Date.now());
    } catch (error) {
      options.log.warn('nats-server certificate renewal failed; retrying', { site: options.site, reason, error: (error as Error).message, retryInMs: RETRY_MS });
      arm(RETRY_MS);
    }
  };

  if (certificate === undefined || !issuedByCurrent(certificate, options) || !caFileCurrent(options)) renew('its certificate is missing or not issued by the current site CA and bundle');
  else arm(dueAt() - Date.now());
  return {
    renew,
    get certificate() {
      return certificate;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function issueAndReload(options: NatsServerCertificateOptions): X509Certificate {
  const authority = options.authority();
  const issued = issueLocalIdentity(authority, 'svc', 'nats', { ttlMs: options.ttlMs ?? DEFAULT_LEAF_TTL_MS });
  writeFileAtomic(options.keyFile, privateKeyToPem(issued.privateKey));
  writeFileAtomic(options.certFile, chainToPem(issued.chain), { mode: 0o644 });
  if (options.caFile !== undefined && !caFileCurrent(options)) writeFileAtomic(options.caFile, authority.bundle.toPem(), { mode: 0o644 });
  process.kill(readPid(options.pidFile), 'SIGHUP');
  return issued.certificate;
}

function readPid(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot read the nats-server pid file (natsServer.pidFile); the new certificate is written and loads at its next start`, { cause });
  }
  const pid = Number(text);
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: ${JSON.stringify(text)} is not a process id (natsServer.pidFile)`);
  return pid;
}

function currentCertificate(options: NatsServerCertificateOptions): X509Certificate | undefined {
  if (!existsSync(options.certFile)) return undefined;
  try {
    return parseCertificates(readFileSync(options.certFile, 'utf8'), options.certFile)[0];
  } catch {
    return undefined;
  }
}

function issuedByCurrent(certificate: X509Certificate, options: NatsServerCertificateOptions): boolean {
  const siteCa = options.authority().certificate;
  return certificate.checkIssued(siteCa) && certificate.verify(siteCa.publicKey) && Date.now() < new Date(certificate.validTo).getTime();
}

function caFileCurrent(options: NatsServerCertificateOptions): boolean {
  if (options.caFile === undefined) return true;
  try {
    return readFileSync(options.caFile, 'utf8') === options.authority().bundle.toPem();
  } catch {
    return false;
  }
}
