import { Agent, request } from 'node:http';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import { parseServiceDefinition, toInstance } from '../../../shared/catalog/index.js';
import { ArrivalBoard, type ChangeSpec } from './changes.js';
import { SseStream } from './sse.js';

/** A propagation path under test: its writes at site A and what site B reports. */
export interface PropagationSide<T> {
  readonly board: ArrivalBoard<T>;
  /** Change `index`: even indexes add an instance, odd ones remove the one added just before. */
  change(index: number, round: string): ChangeSpec<T>;
  /** Per change since the last call: ms from a change reaching B's NATS until B's agent reported it (Meridian only). */
  lags?(): number[];
  close(): void;
}

/**
 * Pairs when a change reached site B's nats-server (a plain watcher connected at B) with when B's
 * agent reported it over SSE: the agent's own share of the propagation time (view, query, SSE).
 */
class LagTap {
  readonly #nats = new Map<string, number>();
  readonly #sse = new Map<string, number>();

  nats(key: string, at: number): void {
    if (!this.#nats.has(key)) this.#nats.set(key, at);
  }

  sse(key: string, at: number): void {
    if (!this.#sse.has(key)) this.#sse.set(key, at);
  }

  take(): number[] {
    const lags: number[] = [];
    for (const [key, at] of this.#sse) {
      const natsAt = this.#nats.get(key);
      if (natsAt !== undefined) lags.push(at - natsAt);
    }
    this.#nats.clear();
    this.#sse.clear();
    return lags;
  }
}

/**
 * One keep-alive HTTP call with node:http. fetch (undici) costs ~2 ms more per call than node:http
 * on our 2-core machines, which would be charged to the agent.
 */
function call(agent: Agent, url: string, options: { method: string; token: string; body?: string; status: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const authorization = `Bearer ${options.token}`;
    const headers = options.body === undefined ? { authorization } : { authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) };
    const req = request(url, { method: options.method, agent, headers, timeout: 5000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => (response.statusCode === options.status ? resolve() : reject(new Error(`${options.method} ${url}: HTTP ${response.statusCode} ${text}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${options.method} ${url}: no answer within 5000 ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Meridian: register and deregister through site A's agent API; arrival is the first event of ONE
 * server-sent-events stream from site B's agent where the instance appears or is gone.
 */
export async function meridianSide(options: {
  writer: { url: string; token: string };
  reader: { url: string; token: string };
  service: string;
  tap: KV;
}): Promise<PropagationSide<ReadonlySet<string>>> {
  const board = new ArrivalBoard<ReadonlySet<string>>();
  const lag = new LagTap();
  const prefix = `svc.${options.service}.`;
  const tap = await options.tap.watch({ key: `${prefix}>`, include: KvWatchInclude.UpdatesOnly });
  void (async () => {
    for await (const entry of tap) lag.nats(`${entry.key.slice(prefix.length)}:${entry.operation}`, performance.now());
  })();
  const http = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = `${options.reader.url}/v1/instances/stream?service=${options.service}`;
  let previous: ReadonlySet<string> = new Set();
  const stream = await SseStream.open(url, (event) => {
    if (event.event !== 'instances') return;
    const ids = new Set((JSON.parse(event.data) as { instanceId: string }[]).map((r) => r.instanceId));
    for (const id of ids) if (!previous.has(id)) lag.sse(`${id}:PUT`, event.receivedAt);
    for (const id of previous) if (!ids.has(id)) lag.sse(`${id}:DEL`, event.receivedAt);
    previous = ids;
    board.publish(ids, event.receivedAt);
  }, { headers: { authorization: `Bearer ${options.reader.token}` } });
  return {
    lags: () => lag.take(),
    board,
    change(index, round) {
      const instanceId = `${round}-${index >> 1}`;
      if (index % 2 === 0) {
        const body = JSON.stringify({ service: options.service, instanceId, ports: { http: 20_000 + (index >> 1) } });
        return {
          write: () => call(http, `${options.writer.url}/v1/services`, { method: 'POST', token: options.writer.token, body, status: 201 }),
          arrived: (ids) => ids.has(instanceId),
        };
      }
      return {
        write: () => call(http, `${options.writer.url}/v1/services/${instanceId}`, { method: 'DELETE', token: options.writer.token, status: 204 }),
        arrived: (ids) => !ids.has(instanceId),
      };
    },
    close: () => {
      stream.close();
      tap.stop();
      http.destroy();
    },
  };
}

/** A raw write: key and operation as a KV watcher reports them. */
export interface RawEntry {
  readonly key: string;
  readonly operation: string;
}

/**
 * The baseline: the same kind of record put into and deleted from site A's bucket by a plain
 * nats.js client at A, seen by a plain KV watcher connected at B. Keys are `bench.*`, which the
 * catalog view and the lease reaper ignore, so the agents running beside it are not disturbed.
 */
export async function rawSide(options: { writer: KV; reader: KV; site: string; service: string }): Promise<PropagationSide<RawEntry>> {
  const board = new ArrivalBoard<RawEntry>();
  const watch = await options.reader.watch({ key: 'bench.>', include: KvWatchInclude.UpdatesOnly });
  void (async () => {
    for await (const entry of watch) board.publish({ key: entry.key, operation: entry.operation }, performance.now());
  })();
  const node = { site: options.site, region: `region-${options.site}`, zone: `${options.site}-a`, platform: 'vm' as const, node: `${options.site}-raw` };
  return {
    board,
    change(index, round) {
      const key = `bench.${round}.${index >> 1}`;
      if (index % 2 === 0) {
        const definition = parseServiceDefinition({ service: options.service, instanceId: `${round}-${index >> 1}`, ports: { http: 20_000 + (index >> 1) } }, 'bench');
        const value = JSON.stringify(toInstance(definition, node, { leaseTtlMs: 3000 }));
        return {
          write: async () => void (await options.writer.put(key, value)),
          arrived: (entry) => entry.key === key && entry.operation === 'PUT',
        };
      }
      return {
        write: () => options.writer.delete(key),
        arrived: (entry) => entry.key === key && entry.operation === 'DEL',
      };
    },
    close: () => watch.stop(),
  };
}
