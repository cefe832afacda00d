import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, SoaAnswer } from 'dns-packet';
import type { CatalogEntry, CatalogReader } from '../../shared/catalog/index.js';
import { DNS_LABEL_PATTERN } from '../../shared/text/index.js';
import { addrLabel, addrOfLabel } from './addr.js';

/** What the DNS zones answer from: the agent's catalog view, its site and its outbound listener. */
export interface DnsZoneSource {
  readonly catalog: Pick<CatalogReader, 'query' | 'sites' | 'revision'>;
  /** The agent's own site: `<svc>.service.consul` names it. */
  readonly site: string;
  /** Where `<svc>.mesh` points: the agent's outbound HTTP listener address, undefined when it has none. */
  readonly meshAddress: () => string | undefined;
  /** TTL of every record, in seconds (also the negative-caching TTL of the zones' SOA). */
  readonly ttl: number;
}

/** The response codes the zones give (RFC 1035 §4.1.1); FORMERR and NOTIMP come from the wire layer. */
export type ZoneRcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED';

/** A question as the wire layer decoded it: type and class as dns-packet names them (`UNKNOWN_<n>` when unknown). */
export interface ZoneQuestion {
  readonly name: string;
  readonly type: string;
  readonly class: string;
}

/** The sections of an answer; authorities carry the SOA of a negative answer (RFC 2308). */
export interface ZoneAnswer {
  readonly rcode: ZoneRcode;
  readonly answers: Answer[];
  readonly authorities: Answer[];
  readonly additionals: Answer[];
}

/**
 * Instances put in one answer at most (a random sample beyond): bounds the work per query; a
 * TCP answer holds about this many SRV records with their glue anyway.
 */
export const MAX_INSTANCES_PER_ANSWER = 512;

const REFUSED: ZoneAnswer = Object.freeze({ rcode: 'REFUSED', answers: [], authorities: [], additionals: [] });

/** A name inside one of the zones, split into lower-case labels without the zone's own. */
interface ZoneName {
  readonly zone: 'mesh' | 'consul';
  readonly labels: readonly string[];
}

/** Labels are matched case-insensitively (RFC 4343); `payments.MESH.` and `payments.mesh` are one name. */
function zoneName(name: string): ZoneName | undefined {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  const zone = labels.pop();
  return zone === 'mesh' || zone === 'consul' ? { zone, labels } : undefined;
}

/** Answers one question of class IN (or ANY): names outside `.mesh` and `.consul` are refused, this is no recursive resolver. */
export function answerQuestion(source: DnsZoneSource, question: ZoneQuestion): ZoneAnswer {
  if (question.class !== 'IN' && question.class !== 'ANY') return REFUSED;
  const name = zoneName(question.name);
  if (name === undefined) return REFUSED;
  const records = name.zone === 'mesh' ? meshRecords(source, name.labels, question) : consulRecords(source, name.labels, question);
  const soa = soaRecord(source, name.zone);
  if (records === undefined) return { rcode: 'NXDOMAIN', answers: [], authorities: [soa], additionals: [] };
  if (name.labels.length === 0 && (question.type === 'SOA' || question.type === 'ANY')) {
    return { rcode: 'NOERROR', answers: [{ ...soa, name: question.name }], authorities: [], additionals: [] };
  }
  return { rcode: 'NOERROR', answers: records.answers, authorities: records.answers.length === 0 ? [soa] : [], additionals: records.additionals };
}

/** Records of an existing name (possibly none of the asked type), or undefined for a name that does not exist. */
interface Found {
  readonly answers: Answer[];
  readonly additionals: Answer[];
}

const EMPTY: Found = Object.freeze({ answers: [], additionals: [] });

/** `mesh.` itself, or `<svc>.mesh` for a service the catalog knows: the outbound listener's address. */
function meshRecords(source: DnsZoneSource, labels: readonly string[], question: ZoneQuestion): Found | undefined {
  if (labels.length === 0) return EMPTY;
  const service = labels[0];
  if (labels.length !== 1 || service === undefined || !knownService(source, service, undefined)) return undefined;
  const address = source.meshAddress();
  if (address === undefined) return EMPTY;
  return { answers: addressRecords([address], question, source.ttl), additionals: [] };
}

/**
 * `consul.`, `<svc>.service[.<site>].consul`, `_<svc>._tcp.service[.<site>].consul` (RFC 2782)
 * and `<hex>.addr.<site>.consul` (the SRV targets).
 */
function consulRecords(source: DnsZoneSource, labels: readonly string[], question: ZoneQuestion): Found | undefined {
  if (labels.length === 0) return EMPTY;
  const [first, second, third, fourth] = labels;
  if (second === 'addr' && labels.length === 3 && third !== undefined && knownSite(source, third)) {
    const address = first === undefined ? undefined : addrOfLabel(first);
    return address === undefined ? undefined : { answers: addressRecords([address], question, source.ttl), additionals: [] };
  }
  if (first?.startsWith('_') === true && second === '_tcp' && third === 'service') {
    return serviceRecords(source, { service: first.slice(1), site: siteLabel(source, labels, 4, fourth) }, question);
  }
  if (second === 'service') return serviceRecords(source, { service: first ?? '', site: siteLabel(source, labels, 3, third) }, question);
  return undefined;
}

/** The site a service name asks for: the agent's own when the name ends at `service`, null when the labels do not fit. */
function siteLabel(source: DnsZoneSource, labels: readonly string[], withSite: number, site: string | undefined): string | null {
  if (labels.length === withSite - 1) return source.site;
  return labels.length === withSite && site !== undefined ? site : null;
}

function knownSite(source: DnsZoneSource, site: string): boolean {
  return site === source.site || source.catalog.sites().some((s) => s.site === site);
}

function knownService(source: DnsZoneSource, service: string, site: string | undefined): boolean {
  if (!DNS_LABEL_PATTERN.test(service)) return false;
  return source.catalog.query(site === undefined ? { service } : { service, site }).length > 0;
}

/**
 * A service's usable instances at a site (the catalog's `usable`: passing and within the
 * service's staleness contract). A service the site has no instance of does not exist
 * (NXDOMAIN); one whose instances are all unusable exists with no records (NOERROR, empty).
 */
function serviceRecords(source: DnsZoneSource, target: { service: string; site: string | null }, question: ZoneQuestion): Found | undefined {
  const { service, site } = target;
  if (site === null || !DNS_LABEL_PATTERN.test(service) || !knownSite(source, site)) return undefined;
  const entries = source.catalog.query({ service, site });
  if (entries.length === 0) return undefined;
  const usable = sample(entries.filter((e) => e.usable));
  if (question.type === 'SRV') return srvRecords(usable, question.name, { site, ttl: source.ttl });
  return { answers: addressRecords(usable.map((e) => e.instance.address), question, source.ttl), additionals: [] };
}

/** A, AAAA, or both for ANY (a minimal ANY answer, RFC 8482: never the SRV set); other types have none. */
function addressRecords(addresses: readonly string[], question: ZoneQuestion, ttl: number): Answer[] {
  const wantA = question.type === 'A' || question.type === 'ANY';
  const wantAaaa = question.type === 'AAAA' || question.type === 'ANY';
  const records: Answer[] = [];
  // An RRset holds no duplicates (RFC 2181 §5): instances sharing an address give one record.
  for (const address of new Set(addresses)) {
    if (wantA && isIPv4(address)) records.push({ name: question.name, type: 'A', class: 'IN', ttl, data: address });
    else if (wantAaaa && isIPv6(address)) records.push({ name: question.name, type: 'AAAA', class: 'IN', ttl, data: address });
  }
  return records;
}

/** SRV records on each instance's first port, targets `<hex>.addr.<site>.consul` with their address as glue. */
function srvRecords(entries: readonly CatalogEntry[], name: string, options: { site: string; ttl: number }): Found {
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const glued = new Set<string>();
  for (const { instance } of entries) {
    const port = Object.values(instance.ports)[0];
    if (port === undefined) continue;
    const label = addrLabel(instance.address);
    // A host name is its own target; the client resolves it elsewhere.
    const target = label === undefined ? instance.address : `${label}.addr.${options.site}.consul`;
    answers.push({ name, type: 'SRV', class: 'IN', ttl: options.ttl, data: { priority: 1, weight: Math.min(instance.weight, 65535), port, target } });
    if (label === undefined || glued.has(target)) continue;
    glued.add(target);
    const type = isIPv4(instance.address) ? 'A' : 'AAAA';
    additionals.push({ name: target, type, class: 'IN', ttl: options.ttl, data: instance.address });
  }
  return { answers, additionals };
}

/** At most MAX_INSTANCES_PER_ANSWER entries in random order, so clients spread over the instances. */
function sample(entries: CatalogEntry[]): CatalogEntry[] {
  const count = Math.min(entries.length, MAX_INSTANCES_PER_ANSWER);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (entries.length - i));
    const picked = entries[j] as CatalogEntry;
    entries[j] = entries[i] as CatalogEntry;
    entries[i] = picked;
  }
  entries.length = count;
  return entries;
}

/** The zone's SOA: its minimum (the negative-caching TTL, RFC 2308) is the configured TTL, its serial the catalog revision. */
function soaRecord(source: DnsZoneSource, zone: 'mesh' | 'consul'): SoaAnswer {
  return {
    name: zone,
    type: 'SOA',
    class: 'IN',
    ttl: source.ttl,
    data: {
      mname: `ns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: source.catalog.revision % 0x1_0000_0000,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: source.ttl,
    },
  };
}
