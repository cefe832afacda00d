import { MeridianError } from '../errors/index.js';
import type { StatusRecord, TrafficEdge } from './types.js';

/*
 * A status report is one NATS message, and the server refuses any message over its max_payload
 * (1 MB by default). A report that grew past it used to fail at every tick from then on. So each
 * report is bounded twice: its traffic section keeps the busiest pairs only, and the whole record
 * is trimmed to fit the server's limit; either way the report says how much it left out.
 */

/** Traffic pairs an agent's report carries at most: the busiest ones. */
export const MAX_REPORT_TRAFFIC_PAIRS = 100;

/** The server limit when the connection has not told it yet (nats-server's default). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Room left under max_payload for what JetStream and the client add to the message (headers). */
export const REPORT_HEADROOM_BYTES = 1024;

/** Busiest first: by rate over the last interval, then by total, then by name for a stable order. */
function busier(a: TrafficEdge, b: TrafficEdge): number {
  return b.rps - a.rps || b.requests - a.requests || a.peerService.localeCompare(b.peerService) || a.peerSite.localeCompare(b.peerSite);
}

/** The `max` busiest pairs, and how many were left out. */
export function busiestTraffic(edges: readonly TrafficEdge[], max = MAX_REPORT_TRAFFIC_PAIRS): { traffic: TrafficEdge[]; omitted: number } {
  const sorted = [...edges].sort(busier);
  return { traffic: sorted.slice(0, max), omitted: Math.max(0, sorted.length - max) };
}

/** A report as it will be written. */
export interface FittedReport {
  /** The JSON to write, at most the limit in bytes. */
  readonly json: string;
  /** Size of the report before trimming. */
  readonly bytes: number;
  /** The list fields that were cut to fit; empty when the report fitted as it was. */
  readonly trimmed: readonly string[];
  /** The written report's `omitted`: entries left out per list. */
  readonly omitted: Readonly<Record<string, number>> | undefined;
}

/** Bytes of `value` as JSON (UTF-8). */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** The list field of `record` that takes the most bytes, if any list has entries left. */
function largestList(record: Record<string, unknown>): { field: string; items: unknown[]; bytes: number } | undefined {
  let largest: { field: string; items: unknown[]; bytes: number } | undefined;
  for (const [field, value] of Object.entries(record)) {
    if (!Array.isArray(value) || value.length === 0) continue;
    const bytes = jsonBytes(value);
    if (largest === undefined || bytes > largest.bytes) largest = { field, items: value, bytes };
  }
  return largest;
}

/**
 * `record` as JSON of at most `maxBytes`. A report over it loses entries from the end of its
 * largest lists (which are ordered most important first), as few as the average entry size says
 * are needed, until it fits; `omitted` counts them. A report whose lists are all empty and that
 * still does not fit (a limit of a few hundred bytes) is an error: nothing sensible can be written.
 */
export function fitReport(record: StatusRecord, maxBytes: number): FittedReport {
  const json = JSON.stringify(record);
  const bytes = Buffer.byteLength(json);
  if (bytes <= maxBytes) return { json, bytes, trimmed: [], omitted: record.omitted };
  const working: Record<string, unknown> = { ...record };
  const omitted: Record<string, number> = { ...record.omitted };
  const trimmed = new Set<string>();
  // Each round empties a list or removes at least one entry; the bound only guards against surprises.
  for (let round = 0; round < 10_000; round++) {
    const size = jsonBytes({ ...working, omitted });
    if (size <= maxBytes) return { json: JSON.stringify({ ...working, omitted }), bytes, trimmed: [...trimmed], omitted };
    const list = largestList(working);
    if (list === undefined) break;
    const perEntry = list.bytes / list.items.length;
    const cut = Math.min(list.items.length, Math.max(1, Math.ceil((size - maxBytes) / perEntry)));
    working[list.field] = list.items.slice(0, list.items.length - cut);
    omitted[list.field] = (omitted[list.field] ?? 0) + cut;
    trimmed.add(list.field);
  }
  throw new MeridianError(
    'MERIDIAN_ERR_STATUS_REPORT_TOO_LARGE',
    `status report of ${record.kind} ${record.name} does not fit in ${maxBytes} bytes even with every list emptied (it is ${bytes} bytes); raise the NATS server's max_payload`,
    { details: { kind: record.kind, name: record.name, bytes, maxBytes } },
  );
}
