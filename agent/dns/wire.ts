import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet, type Question } from 'dns-packet';
import { answerQuestion, type DnsZoneSource, type ZoneAnswer } from './zone.js';

/**
 * The largest query accepted: one question (a name is at most 255 bytes) and an OPT record fit in
 * well under this; anything bigger is hostile or broken and gets FORMERR without being decoded.
 */
export const MAX_QUERY_BYTES = 1024;
/** A UDP answer without EDNS0 (RFC 1035 §4.2.1). */
export const PLAIN_UDP_BYTES = 512;
/**
 * The UDP payload size this server advertises and uses at most, whatever a client offers: 1232
 * avoids IP fragmentation on any path (DNS Flag Day 2020); larger answers go over TCP.
 */
export const EDNS_UDP_BYTES = 1232;
/** A DNS message over TCP is at most this long (its 2-byte length prefix). */
export const TCP_MESSAGE_BYTES = 65_535;

const HEADER_BYTES = 12;
const QR_BIT = 0x8000;
const OPCODE_BITS = 0x7800;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** EDNS version this server speaks; a query with another gets BADVERS (RFC 6891 §6.1.3). */
const EDNS_VERSION = 0;
/** BADVERS is extended rcode 16: its upper 8 bits (1) go in the OPT record, the lower 4 (0) in the header. */
const BADVERS_UPPER = 1;

type Rcode = keyof typeof RCODE;

/** What a query became: an answer to send, or nothing (a response packet, a runt) — never answered, so never reflected. */
export type Reply = Buffer | undefined;

/** Whether the message came over UDP (answers limited to 512 bytes or the EDNS size) or TCP. */
export type Transport = 'udp' | 'tcp';

/** A query that passed every structural check. */
interface Query {
  readonly id: number;
  readonly recursionDesired: boolean;
  readonly question: Question;
  /** The client's OPT record, when it sent one (EDNS0). */
  readonly opt: OptAnswer | undefined;
}

/** Answers one DNS message; malformed input gets FORMERR or NOTIMP, a response or a runt gets nothing. */
export function respond(source: DnsZoneSource, message: Buffer, transport: Transport): Reply {
  if (message.length < HEADER_BYTES) return undefined;
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  if ((flags & QR_BIT) !== 0) return undefined;
  const query = parseQuery(message);
  if (typeof query === 'string') return errorReply(id, flags, query);
  const { question } = query;
  if (query.opt !== undefined && query.opt.ednsVersion !== EDNS_VERSION) {
    return encode({ query, zone: emptyAnswer(), rcode: 'NOERROR', extendedRcode: BADVERS_UPPER }, transport);
  }
  const zone = answerQuestion(source, { name: question.name, type: question.type, class: question.class ?? 'IN' });
  return encode({ query, zone, rcode: zone.rcode, extendedRcode: 0 }, transport);
}

/** The query, or the rcode that says why it is refused. */
function parseQuery(message: Buffer): Query | Rcode {
  if (message.length > MAX_QUERY_BYTES) return 'FORMERR';
  const opcode = (message.readUInt16BE(2) >> 11) & 0xf;
  if (opcode !== 0) return 'NOTIMP';
  // Exactly one question (RFC 9619) and no records but an OPT: checked before decoding, so a
  // header claiming 65 535 of anything costs nothing.
  const [qd, an, ns, ar] = [4, 6, 8, 10].map((offset) => message.readUInt16BE(offset));
  if (qd !== 1 || an !== 0 || ns !== 0 || (ar ?? 0) > 1) return 'FORMERR';
  let packet: DecodedPacket;
  try {
    // dns-packet follows only pointers to earlier bytes, so a compression loop cannot spin it.
    packet = dnsPacket.decode(message);
  } catch {
    return 'FORMERR';
  }
  if (dnsPacket.decode.bytes !== message.length) return 'FORMERR';
  const question = packet.questions?.[0];
  const extra = packet.additionals?.[0];
  if (question === undefined || (extra !== undefined && (extra.type !== 'OPT' || extra.name !== '.'))) return 'FORMERR';
  const opt = extra?.type === 'OPT' ? extra : undefined;
  return { id: packet.id ?? 0, recursionDesired: packet.flag_rd, question, opt };
}

/** A reply with no question section: the query could not be read (or its opcode is not served); opcode and RD are echoed. */
function errorReply(id: number, queryFlags: number, rcode: Rcode): Buffer {
  const echoed = queryFlags & (OPCODE_BITS | dnsPacket.RECURSION_DESIRED);
  return dnsPacket.encode({ type: 'response', id, flags: echoed | RCODE[rcode], questions: [], answers: [], authorities: [], additionals: [] });
}

function emptyAnswer(): ZoneAnswer {
  return { rcode: 'NOERROR', answers: [], authorities: [], additionals: [] };
}

/** How many bytes an answer may take: 512 over plain UDP, the client's EDNS size within [512, 1232], 65 535 over TCP. */
function sizeLimit(query: Query, transport: Transport): number {
  if (transport === 'tcp') return TCP_MESSAGE_BYTES;
  if (query.opt === undefined) return PLAIN_UDP_BYTES;
  return Math.max(PLAIN_UDP_BYTES, Math.min(query.opt.udpPayloadSize, EDNS_UDP_BYTES));
}

/**
 * Encodes the answer within the transport's size: whole answer records while they fit, then
 * glue while it fits. Answers that do not all fit set TC (RFC 2181 §9), and the client asks
 * again over TCP; missing glue does not (RFC 1035 §4.1.1: additional data is optional).
 */
function encode(reply: { query: Query; zone: ZoneAnswer; rcode: Rcode; extendedRcode: number }, transport: Transport): Buffer {
  const { query, zone } = reply;
  const opt: OptAnswer[] =
    query.opt === undefined ? [] : [{ name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_BYTES, extendedRcode: reply.extendedRcode, ednsVersion: EDNS_VERSION, flags: 0, flag_do: false, options: [] }];
  const packet: Packet = { type: 'response', id: query.id, questions: [query.question], answers: [], authorities: zone.authorities, additionals: [] };
  let room = sizeLimit(query, transport) - dnsPacket.encodingLength({ ...packet, additionals: opt });
  const answers = fitting(zone.answers, room);
  const truncated = answers.length < zone.answers.length;
  room -= bytesOf(answers);
  const glue = truncated ? [] : fitting(zone.additionals, room);
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | (query.recursionDesired ? dnsPacket.RECURSION_DESIRED : 0) | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | RCODE[reply.rcode];
  return dnsPacket.encode({ ...packet, flags, answers, additionals: [...glue, ...opt] });
}

/** The leading records that fit in `room` bytes. */
function fitting(records: readonly Answer[], room: number): Answer[] {
  let used = 0;
  let count = 0;
  for (const record of records) {
    used += recordBytes(record);
    if (used > room) break;
    count++;
  }
  return records.slice(0, count);
}

function bytesOf(records: readonly Answer[]): number {
  let total = 0;
  for (const record of records) total += recordBytes(record);
  return total;
}

/** One record's encoded size (dns-packet compresses no names, so sizes add up). */
function recordBytes(record: Answer): number {
  return dnsPacket.encodingLength({ answers: [record] }) - HEADER_BYTES;
}
