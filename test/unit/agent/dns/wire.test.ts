import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket, { type Packet } from 'dns-packet';
import { EDNS_UDP_BYTES, MAX_QUERY_BYTES, PLAIN_UDP_BYTES } from '../../../../agent/dns/index.js';
import { respond } from '../../../../agent/dns/wire.js';
import { SeededCatalog, zoneOf } from './support.js';

const RCODE_MASK = 0xf;

function query(name: string, type: 'A' | 'SRV' | 'AAAA' = 'A', extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], ...extra });
}

function zone(instances = 3): ReturnType<typeof zoneOf> {
  const c = new SeededCatalog();
  for (let i = 0; i < instances; i++) c.add({ service: 'payments', instanceId: `p${i}`, site: 'east', address: `10.0.${i >> 8}.${i & 255}`, port: 8000 + i });
  return zoneOf(c);
}

function decoded(reply: Buffer | undefined): ReturnType<typeof dnsPacket.decode> {
  assert.ok(reply !== undefined, 'a reply');
  return dnsPacket.decode(reply);
}

function rcodeOf(reply: Buffer | undefined): number {
  assert.ok(reply !== undefined, 'a reply');
  return reply.readUInt16BE(2) & RCODE_MASK;
}

/** A header with the given counts followed by `body`. */
function raw(counts: [number, number, number, number], body: Buffer = Buffer.alloc(0), flags = 0x0100): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(7, 0);
  header.writeUInt16BE(flags, 2);
  counts.forEach((count, i) => header.writeUInt16BE(count, 4 + i * 2));
  return Buffer.concat([header, body]);
}

describe('DNS wire format: queries answered, malformed ones refused, answers fitted', () => {
  it('answers with the query id, AA, RD echoed, RA clear, the question echoed', () => {
    const reply = decoded(respond(zone(), query('payments.service.consul'), 'udp'));
    assert.equal(reply.id, 4242);
    assert.equal(reply.flag_qr, true);
    assert.equal(reply.flag_aa, true);
    assert.equal(reply.flag_rd, true);
    assert.equal(reply.flag_ra, false);
    assert.deepEqual(reply.questions, [{ name: 'payments.service.consul', type: 'A', class: 'IN' }]);
    assert.equal(reply.answers?.length, 3);
  });

  it('a response packet or a runt under 12 bytes is never answered (no reflection, no loops)', () => {
    assert.equal(respond(zone(), Buffer.from(dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'payments.mesh', type: 'A' }] })), 'udp'), undefined);
    assert.equal(respond(zone(), Buffer.alloc(11), 'udp'), undefined);
    assert.equal(respond(zone(), Buffer.alloc(0), 'udp'), undefined);
  });

  it('FORMERR for garbage, a truncated name, a header claiming many questions or records, trailing bytes', () => {
    const z = zone();
    const good = query('payments.mesh');
    const cases: Record<string, Buffer> = {
      garbage: raw([1, 0, 0, 0], Buffer.from([0xff, 0xfe, 0xfd])),
      truncatedName: good.subarray(0, good.length - 6),
      noQuestion: raw([0, 0, 0, 0]),
      manyQuestions: raw([65535, 0, 0, 0], good.subarray(12)),
      twoQuestions: raw([2, 0, 0, 0], Buffer.concat([good.subarray(12), good.subarray(12)])),
      answersInQuery: raw([1, 65535, 0, 0], good.subarray(12)),
      authorities: raw([1, 0, 1, 0], good.subarray(12)),
      twoAdditionals: raw([1, 0, 0, 2], good.subarray(12)),
      trailing: Buffer.concat([good, Buffer.from([0, 0, 0])]),
      badLabelType: raw([1, 0, 0, 0], Buffer.from([0x40, 0x61, 0, 0, 1, 0, 1])),
    };
    for (const [what, message] of Object.entries(cases)) {
      const reply = respond(z, message, 'udp');
      assert.equal(rcodeOf(reply), 1, what);
      assert.equal(reply?.readUInt16BE(0), message.readUInt16BE(0), `${what}: id echoed`);
      assert.equal(reply?.readUInt16BE(4), 0, `${what}: no question section`);
    }
  });

  it('compression pointers: a loop, a forward pointer and a self pointer are FORMERR; a backward one is read', () => {
    const z = zone();
    const question = (name: Buffer): Buffer => Buffer.concat([name, Buffer.from([0, 1, 0, 1])]);
    // Offset 12 is the question name: a pointer to itself, then two names pointing at each other.
    assert.equal(rcodeOf(respond(z, raw([1, 0, 0, 0], question(Buffer.from([0xc0, 12]))), 'udp')), 1);
    assert.equal(rcodeOf(respond(z, raw([1, 0, 0, 0], question(Buffer.from([0xc0, 14, 0xc0, 12]))), 'udp')), 1);
    assert.equal(rcodeOf(respond(z, raw([1, 0, 0, 0], question(Buffer.from([0xc0, 0xff]))), 'udp')), 1);
    // An OPT name pointing back at the question's root label is legal compression, read as the root.
    const good = query('payments.mesh');
    const opt = Buffer.from([0xc0, 12 + 'payments.mesh'.length + 1, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
    const reply = respond(z, raw([1, 0, 0, 1], Buffer.concat([good.subarray(12), opt])), 'udp');
    assert.equal(rcodeOf(reply), 0);
    assert.equal(decoded(reply).answers?.length, 1);
  });

  it(`a query over ${MAX_QUERY_BYTES} bytes is FORMERR without being decoded`, () => {
    const big = Buffer.concat([query('payments.mesh'), Buffer.alloc(MAX_QUERY_BYTES)]);
    assert.equal(rcodeOf(respond(zone(), big, 'udp')), 1);
  });

  it('an opcode other than QUERY (NOTIFY, UPDATE, IQUERY) is NOTIMP', () => {
    for (const opcode of [1, 4, 5]) {
      const message = query('payments.mesh');
      message.writeUInt16BE(message.readUInt16BE(2) | (opcode << 11), 2);
      const reply = respond(zone(), message, 'udp');
      assert.equal(rcodeOf(reply), 4, `opcode ${opcode}`);
      assert.equal(((reply?.readUInt16BE(2) ?? 0) >> 11) & 0xf, opcode, 'opcode echoed');
    }
  });

  it('EDNS0: the OPT record is answered with ours (1232 bytes); another EDNS version gets BADVERS', () => {
    const opt = { name: '.', type: 'OPT' as const, udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
    const reply = decoded(respond(zone(), query('payments.mesh', 'A', { additionals: [opt] }), 'udp'));
    const ours = reply.additionals?.find((r) => r.type === 'OPT');
    assert.ok(ours?.type === 'OPT');
    assert.equal(ours.udpPayloadSize, EDNS_UDP_BYTES);
    assert.equal(reply.answers?.length, 1);
    const bad = respond(zone(), query('payments.mesh', 'A', { additionals: [{ ...opt, ednsVersion: 1 }] }), 'udp');
    const badReply = decoded(bad);
    const badOpt = badReply.additionals?.find((r) => r.type === 'OPT');
    assert.ok(badOpt?.type === 'OPT');
    assert.equal(((badOpt.extendedRcode << 4) | rcodeOf(bad)), 16, 'BADVERS');
    assert.equal(badReply.answers?.length, 0);
  });

  it('UDP answers past 512 bytes (or the EDNS size, at most 1232) are cut to whole records with TC; TCP carries them all', () => {
    const z = zone(100);
    const plain = respond(z, query('payments.service.consul'), 'udp');
    assert.ok(plain !== undefined && plain.length <= PLAIN_UDP_BYTES, `${plain?.length}`);
    const plainReply = decoded(plain);
    assert.equal(plainReply.flag_tc, true);
    assert.ok((plainReply.answers?.length ?? 0) > 0 && (plainReply.answers?.length ?? 0) < 100);
    const opt = { name: '.', type: 'OPT' as const, udpPayloadSize: 65000, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
    const edns = respond(z, query('payments.service.consul', 'A', { additionals: [opt] }), 'udp');
    assert.ok(edns !== undefined && edns.length <= EDNS_UDP_BYTES && edns.length > PLAIN_UDP_BYTES, `${edns?.length}`);
    assert.equal(decoded(edns).flag_tc, true);
    const tcp = decoded(respond(z, query('payments.service.consul'), 'tcp'));
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 100);
  });

  it('SRV over UDP: answers first; glue that does not fit is left out without TC', () => {
    const z = zone(5);
    const reply = decoded(respond(z, query('payments.service.consul', 'SRV'), 'udp'));
    assert.equal(reply.answers?.length, 5);
    assert.equal(reply.flag_tc, false);
    assert.ok((reply.additionals?.length ?? 0) < 5, 'some glue left out at 512 bytes');
    const tcp = decoded(respond(z, query('payments.service.consul', 'SRV'), 'tcp'));
    assert.equal(tcp.additionals?.length, 5);
  });

  it('NXDOMAIN and REFUSED reach the wire with the question echoed', () => {
    assert.equal(rcodeOf(respond(zone(), query('nosuch.service.consul'), 'udp')), 3);
    assert.equal(rcodeOf(respond(zone(), query('www.example.com'), 'udp')), 5);
  });
});
