import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { MeridianError } from '../../../shared/errors/index.js';
import { findBinary } from './binary.js';
import { Child, ChildServer, type ChildServerParts } from './child.js';
import { freePort, isAddressInUse, pollUntil } from './probe.js';
import { removeDir, trackDir } from './registry.js';
import type { ServerHandle } from './types.js';

/** One endpoint to scrape. */
export interface PrometheusTarget {
  /** The `job` label. Targets of one job must share scheme, path and token. */
  readonly job: string;
  /** Full URL, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly bearerToken?: string;
}

/** Options of {@link startPrometheus}. */
export interface PrometheusOptions {
  readonly targets: readonly PrometheusTarget[];
  /** Scrape configs added as given (e.g. a `consul_sd_configs` job); `targets` may then be empty. */
  readonly scrapeConfigs?: readonly Readonly<Record<string, unknown>>[];
  /** Scrape interval (and timeout). Default 1000 ms; Prometheus accepts whole milliseconds. */
  readonly scrapeIntervalMs?: number;
  /** Path to the binary; default {@link findBinary}('prometheus'). */
  readonly binary?: string;
  /** Bound on start-up until /-/ready answers. Default 15 000 ms. */
  readonly startTimeoutMs?: number;
  /** Bound between SIGTERM and SIGKILL on stop. Default 5 000 ms. */
  readonly stopTimeoutMs?: number;
}

/** One series of an instant vector. */
export interface PrometheusSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
  /** Evaluation time, Unix seconds. */
  readonly timestamp: number;
}

/** An active scrape target as Prometheus sees it. */
export interface PrometheusTargetHealth {
  readonly job: string;
  readonly scrapeUrl: string;
  /** 'unknown' until the first scrape. */
  readonly health: 'up' | 'down' | 'unknown';
  /** '' when the last scrape succeeded. */
  readonly lastError: string;
  readonly lastScrape: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A running Prometheus server. */
export interface PrometheusHandle extends ServerHandle {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly configPath: string;
  /** Evaluates an instant query now; rejects unless the result is a vector. */
  query(promql: string): Promise<PrometheusSample[]>;
  /** The active targets with their health and last scrape error. */
  targets(): Promise<PrometheusTargetHealth[]>;
  /** Last lines the process wrote, for diagnosis. */
  output(): string;
}

const PORT_ATTEMPTS = 5;
const API_TIMEOUT_MS = 5000;

/**
 * Starts a throw-away Prometheus in a fresh temp dir (`meridian-prometheus-*`: config and TSDB)
 * on a free 127.0.0.1 port, scraping `targets`; no alerting, no remote write. Resolves once
 * /-/ready answers. Note that Prometheus applies its target list up to ~5 s after start, so the
 * first scrape comes later than one interval. Throws MERIDIAN_ERR_BINARY_MISSING (naming the
 * `prometheus` package) when the binary is missing.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusHandle> {
  const config = renderPrometheusConfig(options.targets, options.scrapeIntervalMs ?? 1000, options.scrapeConfigs ?? []);
  const binary = options.binary ?? findBinary('prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'meridian-prometheus-'));
  trackDir(dir);
  try {
    const configPath = join(dir, 'prometheus.yml');
    await writeFile(configPath, config, { mode: 0o600 });
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(binary, dir, configPath, options);
      } catch (err) {
        if (!isAddressInUse(err) || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}

/** The prometheus.yml for `targets` (YAML; bearer tokens inline, the file is mode 0600). */
export function renderPrometheusConfig(targets: readonly PrometheusTarget[], scrapeIntervalMs: number, extra: readonly Readonly<Record<string, unknown>>[] = []): string {
  if (!Number.isInteger(scrapeIntervalMs) || scrapeIntervalMs < 1) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startPrometheus: scrapeIntervalMs must be a positive integer, got ${String(scrapeIntervalMs)}`);
  }
  if (targets.length === 0 && extra.length === 0) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', 'startPrometheus: targets must not be empty');
  const jobs = new Map<string, { key: string; config: ScrapeConfig }>();
  targets.forEach((target, i) => {
    const { key, config } = scrapeConfig(target, i);
    const existing = jobs.get(target.job);
    if (existing === undefined) jobs.set(target.job, { key, config });
    else if (existing.key !== key) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startPrometheus: targets[${i}]: targets of job "${target.job}" must share scheme, path, query and token`);
    } else existing.config.static_configs[0]?.targets.push(new URL(target.url).host);
  });
  const interval = `${scrapeIntervalMs}ms`;
  return stringify({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [...[...jobs.values()].map((j) => j.config), ...extra],
  });
}

interface ScrapeConfig {
  job_name: string;
  scheme: string;
  metrics_path: string;
  params?: Record<string, string[]>;
  authorization?: { type: 'Bearer'; credentials: string };
  static_configs: { targets: string[] }[];
}

function scrapeConfig(target: PrometheusTarget, i: number): { key: string; config: ScrapeConfig } {
  const bad = (what: string): MeridianError => new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startPrometheus: targets[${i}].${what}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(target.job)) throw bad(`job must match [A-Za-z0-9_.-]+, got ${JSON.stringify(target.job)}`);
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw bad(`url is not a URL: ${JSON.stringify(target.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(`url must be http or https, got ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw bad('url must not carry credentials; use bearerToken');
  if (target.bearerToken !== undefined && !/^[\x21-\x7e]+$/.test(target.bearerToken)) throw bad('bearerToken must be non-empty printable ASCII');
  const params: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) (params[name] ??= []).push(value);
  const config: ScrapeConfig = {
    job_name: target.job,
    scheme: url.protocol.slice(0, -1),
    metrics_path: url.pathname,
    ...(url.search === '' ? {} : { params }),
    ...(target.bearerToken === undefined ? {} : { authorization: { type: 'Bearer' as const, credentials: target.bearerToken } }),
    static_configs: [{ targets: [url.host] }],
  };
  return { key: JSON.stringify([config.scheme, config.metrics_path, url.search, target.bearerToken ?? null]), config };
}

async function launch(binary: string, dir: string, configPath: string, options: PrometheusOptions): Promise<PrometheusHandle> {
  const port = await freePort();
  const args = [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ];
  const child = await Child.spawn(binary, args, dir);
  const url = `http://127.0.0.1:${port}`;
  try {
    await pollUntil(async () => ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined), {
      what: `${url}/-/ready of prometheus`,
      timeoutMs: options.startTimeoutMs ?? 15_000,
      child,
    });
  } catch (err) {
    await child.kill();
    throw err;
  }
  return new PrometheusServer({ child, dir, port, stopTimeoutMs: options.stopTimeoutMs ?? 5000 }, configPath);
}

class PrometheusServer extends ChildServer implements PrometheusHandle {
  readonly configPath: string;

  constructor(parts: ChildServerParts, configPath: string) {
    super(parts);
    this.configPath = configPath;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async query(promql: string): Promise<PrometheusSample[]> {
    const data = await this.#api(`/api/v1/query?query=${encodeURIComponent(promql)}`, `query ${JSON.stringify(promql)}`);
    const result = data as { resultType?: string; result?: { metric: Record<string, string>; value: [number, string] }[] };
    if (result.resultType !== 'vector' || !Array.isArray(result.result)) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `prometheus query ${JSON.stringify(promql)} returned a ${String(result.resultType)}, not a vector`);
    }
    return result.result.map((s) => ({ metric: s.metric, value: parseSampleValue(s.value[1]), timestamp: s.value[0] }));
  }

  async targets(): Promise<PrometheusTargetHealth[]> {
    const data = (await this.#api('/api/v1/targets?state=active', 'targets')) as { activeTargets?: RawTarget[] };
    return (data.activeTargets ?? []).map((t) => ({
      job: t.labels['job'] ?? t.scrapePool,
      scrapeUrl: t.scrapeUrl,
      health: t.health,
      lastError: t.lastError,
      lastScrape: t.lastScrape,
      labels: t.labels,
    }));
  }

  /** GETs an API path and returns `data`; a Prometheus error becomes a MeridianError with its message. */
  async #api(path: string, what: string): Promise<unknown> {
    let body: { status?: string; data?: unknown; errorType?: string; error?: string };
    try {
      const response = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(API_TIMEOUT_MS) });
      body = (await response.json()) as typeof body;
    } catch (err) {
      throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `prometheus ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (body.status !== 'success') {
      const code = body.errorType === 'bad_data' ? 'MERIDIAN_ERR_BAD_ARGUMENT' : 'MERIDIAN_ERR_UNAVAILABLE';
      throw new MeridianError(code, `prometheus ${what} failed: ${body.errorType ?? 'error'}: ${body.error ?? 'no message'}`);
    }
    return body.data;
  }
}

interface RawTarget {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

/** Prometheus writes sample values as strings, with Go's spellings of the infinities. */
function parseSampleValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}
