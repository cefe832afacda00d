import { createHash, type KeyObject } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { MeridianError } from '../../shared/errors/index.js';
import { SiteAuthority, TrustBundle, parseCertificates, privateKeyFromPem, readText, type PkiDirectory } from '../../shared/identity/index.js';
import { ensureTrustBucket } from '../../shared/identity/trust-bucket.js';
import { TRUST_DOCUMENT_KEY, encodeTrustDocument, trustBucketName, verifyTrustDocument } from '../../shared/identity/trust-document.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { keepNatsServerCertificate, type NatsServerCertificateKeeper, type NatsServerFiles } from './nats-server-cert.js';

/** Options of {@link startTrustPublisher}. */
export interface TrustPublisherOptions {
  readonly nc: NatsConnection;
  readonly pki: PkiDirectory;
  readonly site: string;
  readonly log: Logger;
  /** How often bundle.pem and the site CA files are read and the bucket checked. Default 1 s. */
  readonly pollMs?: number;
  /** The site CA or the bundle changed (validated): sign and verify agents with this authority from now on. */
  readonly onAuthority?: (authority: SiteAuthority) => void;
  /** bundle.pem changed (validated): the control service's own TLS consumers should trust it. */
  readonly onBundle?: (bundle: TrustBundle) => void;
  /** Keep the site's nats-server certificate renewed (and the server reloaded); absent: not managed. */
  readonly natsServer?: NatsServerFiles;
}

/** A running trust publisher. */
export interface TrustPublisher {
  /** The site CA (with the bundle) the control service signs with now. */
  readonly authority: SiteAuthority;
  /** The version of the document in the bucket once this publisher checked it; 0 before. */
  readonly version: number;
  /** One poll now (tests, SIGHUP): files re-read, the bucket checked, published when needed. */
  check(): Promise<void>;
  stop(): void;
}

interface TrustFiles {
  readonly bundle: string;
  readonly cert: string;
  readonly key: string;
}

/** The largest version a publisher takes from the bucket: above it a forged value could exhaust safe integers. */
const MAX_VERSION = 2 ** 52;

/**
 * Publishes the site's trust document (contract in shared/identity/trust-document.ts): reads
 * bundle.pem and the site CA from the PKI dir every second; a change is validated first (a bundle
 * that does not parse, or that the site CA does not chain to, is logged and neither used nor
 * published); then the document in `meridian-trust-<site>` is replaced, signed by the site CA,
 * with a version above both the bucket's and pki/bundle-version, by compare-and-set so two
 * control services of a site never publish a lower version. A document in the bucket that no
 * longer verifies (tampered, or the bucket was recreated empty) is replaced too.
 */
export function startTrustPublisher(options: TrustPublisherOptions): TrustPublisher {
  const publisher = new Publisher(options);
  const timer = setInterval(() => void publisher.check(), options.pollMs ?? 1000);
  timer.unref();
  void publisher.check();
  return {
    get authority() {
      return publisher.current.authority;
    },
    get version() {
      return publisher.version;
    },
    check: () => publisher.check(),
    stop() {
      clearInterval(timer);
      publisher.stop();
    },
  };
}

/** A validated state of the trust files: the authority, and the key it signs the document with. */
interface TrustState {
  readonly authority: SiteAuthority;
  readonly key: KeyObject;
  readonly digest: string;
}

class Publisher {
  current: TrustState;
  version = 0;
  readonly #options: TrustPublisherOptions;
  readonly #trustDomain: string;
  readonly #nats: NatsServerCertificateKeeper | undefined;
  #refusedDigest = '';
  #kv: KV | undefined;
  #running: Promise<void> | undefined;
  #told = '';

  constructor(options: TrustPublisherOptions) {
    this.#options = options;
    this.#trustDomain = options.pki.trustDomain();
    this.current = validate(this.#trustDomain, readFiles(options.pki, options.site));
    this.#nats = options.natsServer === undefined ? undefined : keepNatsServerCertificate({ ...options.natsServer, site: options.site, log: options.log, authority: () => this.current.authority });
  }

  /** One poll; concurrent calls share the one running. */
  check(): Promise<void> {
    this.#running ??= (async () => {
      try {
        this.#reload();
        await this.#publish();
        this.#told = '';
      } catch (error) {
        // Once per distinct failure: NATS down would otherwise log every poll.
        const message = (error as Error).message;
        if (message !== this.#told) this.#options.log.warn('trust document not published yet; retrying every poll', { site: this.#options.site, bucket: trustBucketName(this.#options.site), error: message });
        this.#told = message;
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  stop(): void {
    this.#nats?.stop();
  }

  #reload(): void {
    const { pki, site, log } = this.#options;
    const files = readFiles(pki, site);
    const current = digestOf(files);
    if (current === this.current.digest || current === this.#refusedDigest) return;
    let next: TrustState;
    try {
      next = validate(this.#trustDomain, files);
    } catch (error) {
      this.#refusedDigest = current;
      log.warn('trust files refused: keeping the current bundle and site CA', { site, error: (error as Error).message });
      return;
    }
    const bundleChanged = next.authority.bundle.toPem() !== this.current.authority.bundle.toPem();
    this.current = next;
    log.info('site CA and trust bundle reloaded', { site, roots: next.authority.bundle.roots.length, siteCaExpires: new Date(next.authority.certificate.validTo).toISOString() });
    this.#options.onAuthority?.(next.authority);
    if (bundleChanged) this.#options.onBundle?.(next.authority.bundle);
    this.#nats?.renew('the site CA or the trust bundle changed');
  }

  async #publish(): Promise<void> {
    const { site, pki } = this.#options;
    const { authority, key } = this.current;
    this.#kv ??= await ensureTrustBucket(this.#options.nc, site, { deadlineMs: 2_000 });
    const entry = await this.#kv.get(TRUST_DOCUMENT_KEY);
    const present = entry !== null && entry.operation === 'PUT' ? entry.string() : undefined;
    const stored = present === undefined ? 0 : storedVersion(present);
    if (present !== undefined && isCurrent(present, authority, site)) {
      this.version = stored;
      return;
    }
    const version = Math.max(stored, pki.bundleVersion()) + 1;
    const root = authority.bundle.issuerOf(authority.certificate);
    const chain = root === undefined ? [authority.certificate] : [authority.certificate, root];
    const document = encodeTrustDocument({ trustDomain: this.#trustDomain, version, bundle: authority.bundle.toPem(), signer: { privateKey: key, chain } });
    // Compare-and-set on the revision read: a concurrent publisher makes this fail, and the next poll re-reads.
    if (entry === null) await this.#kv.create(TRUST_DOCUMENT_KEY, document);
    else await this.#kv.update(TRUST_DOCUMENT_KEY, document, entry.revision);
    this.version = version;
    this.#options.log.info('trust document published', { bucket: trustBucketName(site), version, roots: authority.bundle.roots.length });
  }
}

function readFiles(pki: PkiDirectory, site: string): TrustFiles {
  const paths = pki.sitePaths(site);
  return { bundle: readText(pki.bundlePath, 'trust bundle'), cert: readText(paths.cert, 'site CA certificate'), key: readText(paths.key, 'site CA key') };
}

function digestOf(files: TrustFiles): string {
  return createHash('sha256').update(files.bundle).update('\0').update(files.cert).update('\0').update(files.key).digest('hex');
}

/** The state the files make: the bundle parses, the site CA matches its key and chains to the bundle. */
function validate(trustDomain: string, files: TrustFiles): TrustState {
  const bundle = TrustBundle.fromPem(trustDomain, files.bundle, 'bundle.pem');
  const [certificate] = parseCertificates(files.cert, 'site CA certificate');
  if (certificate === undefined) throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', 'site CA certificate: empty');
  const key = privateKeyFromPem(files.key, 'site CA key');
  return { authority: new SiteAuthority({ privateKey: key, certificate, bundle }), key, digest: digestOf(files) };
}

/** The version of a stored document, 0 when unreadable (a forged or garbled value is no floor). */
function storedVersion(text: string): number {
  try {
    const value = (JSON.parse(text) as { version?: unknown }).version;
    return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value <= MAX_VERSION ? value : 0;
  } catch {
    return 0;
  }
}

/** True when the stored document carries our bundle and passes the receivers' rules: nothing to publish. */
function isCurrent(text: string, authority: SiteAuthority, site: string): boolean {
  try {
    const { bundle } = verifyTrustDocument(text, { site, bundle: authority.bundle, lastVersion: 0 });
    return bundle.toPem() === authority.bundle.toPem();
  } catch {
    return false;
  }
}
