// Query → answer. A response is the client's own header and question (so the question is echoed byte for
// byte, case included, and only flags and counts are patched), then a pre-encoded record from the zone, then
// an OPT record when the client sent one. One Buffer per answer, no objects.
import { Packet, type Resource } from "dns2";
import { EDNS_MAX_PAYLOAD, HEADER_SIZE, OPT_SIZE, PARSE, QTYPE, RCODE, UDP_DEFAULT_LIMIT, questionEnd, type ParseResult, type QueryParser } from "./wire.js";
import { wantsA, type Zone } from "./zone.js";

/** The zone's answer to a parsed standard query, or null when the name is not the zone's (forward it). */
export function zoneAnswer(zone: Zone, msg: Buffer, q: QueryParser): Buffer | null {
  if (q.ednsVersion !== 0) return respond(msg, q, RCODE.BADVERS, null, false);
  const entry = zone.find(q.name, q.nameLength, q.hash);
  if (entry === undefined) return zone.nameInDomain(q.name, q.nameLength) ? respond(msg, q, RCODE.NXDOMAIN, null, true) : null;
  return respond(msg, q, RCODE.NOERROR, entry.a !== null && wantsA(q.qtype, q.qclass) ? entry.a : null, true);
}

/** An answer without records: FORMERR, NOTIMP, SERVFAIL… It echoes the question when the parser read one,
 * else it is a bare header. */
export function errorAnswer(msg: Buffer, q: QueryParser, rcode: number): Buffer {
  return respond(msg, q, rcode, null, false);
}

/** Builds a response: the query's header and question, `rr` as the one answer record (or none), an OPT
 * record when the query had one. `rcode` may be extended (> 15): its high bits go into the OPT record. */
export function respond(msg: Buffer, q: QueryParser, rcode: number, rr: Buffer | null, authoritative: boolean): Buffer {
  const qEnd = q.questionEnd > 0 ? q.questionEnd : HEADER_SIZE;
  const rrLen = rr === null ? 0 : rr.length;
  const out = Buffer.allocUnsafe(qEnd + rrLen + (q.edns ? OPT_SIZE : 0));
  copyBytes(msg, 0, out, 0, qEnd);
  // QR=1, opcode and RD copied, AA for the zone's own names; RA (mesh-dns recurses through its upstreams),
  // CD copied (RFC 6840 §5.9), AD and Z cleared.
  out[2] = 0x80 | (msg[2]! & 0x79) | (authoritative ? 0x04 : 0);
  out[3] = 0x80 | (msg[3]! & 0x10) | (rcode & 0x0f);
  out[4] = 0;
  out[5] = qEnd > HEADER_SIZE ? 1 : 0;
  out[6] = 0;
  out[7] = rr === null ? 0 : 1;
  out[8] = 0;
  out[9] = 0;
  out[10] = 0;
  out[11] = q.edns ? 1 : 0;
  if (rr !== null) copyBytes(rr, 0, out, qEnd, rrLen);
  if (q.edns) writeOpt(out, qEnd + rrLen, q.ednsSize, q.ednsDo, rcode >> 4);
  return out;
}

/** Copies `n` bytes. A loop, not `Buffer.copy`: a header, a question and a 16-byte record are too short to
 * gain from a native call, whose entry costs more than the copy. */
function copyBytes(from: Uint8Array, fromAt: number, to: Uint8Array, toAt: number, n: number): void {
  for (let i = 0; i < n; i++) to[toAt + i] = from[fromAt + i]!;
}

/** Writes an OPT record (RFC 6891 §6.1.2) with no options at `at`: the client's UDP payload size echoed
 * (clamped to 512…4096), the extended RCODE bits, version 0, and the DO bit copied from the query (RFC 3225). */
export function writeOpt(out: Buffer, at: number, size: number, dnssecOk: boolean, extendedRcode: number): void {
  const payload = Math.min(Math.max(size, UDP_DEFAULT_LIMIT), EDNS_MAX_PAYLOAD);
  out[at] = 0;
  out[at + 1] = 0;
  out[at + 2] = QTYPE.OPT;
  out[at + 3] = payload >> 8;
  out[at + 4] = payload & 0xff;
  out[at + 5] = extendedRcode & 0xff;
  out[at + 6] = 0;
  out[at + 7] = dnssecOk ? 0x80 : 0;
  out[at + 8] = 0;
  out[at + 9] = 0;
  out[at + 10] = 0;
}

/** Fits a response into a UDP client's limit: unchanged when it fits, else header + question with TC=1 and
 * no records, so the client retries over TCP (RFC 1035 §4.2.1, RFC 2181 §9). */
export function truncateForUdp(resp: Buffer, limit: number): Buffer {
  if (resp.length <= limit) return resp;
  let qEnd = questionEnd(resp);
  if (qEnd < 0 || qEnd > limit) qEnd = HEADER_SIZE;
  const out = Buffer.from(resp.subarray(0, qEnd));
  out[2] = out[2]! | 0x02;
  out.writeUInt16BE(qEnd > HEADER_SIZE ? 1 : 0, 4);
  out.fill(0, 6, 12);
  return out;
}

/** Writes a message ID. */
export function setId(buf: Buffer, id: number): void {
  buf[0] = id >> 8;
  buf[1] = id & 0xff;
}

/** The slow path for well-formed questions with unusual other sections (records in the answer or authority
 * section, several additional records such as OPT + TSIG): dns2 parses the whole message, every record
 * must decode, at most one OPT is allowed (RFC 6891 §6.1.1); the query's EDNS settings are taken from it.
 * Returns PARSE.ok (answer or forward as usual) or PARSE.formerr. */
export function checkComplexQuery(msg: Buffer, q: QueryParser): ParseResult {
  let packet: Packet;
  try {
    packet = Packet.parse(msg);
  } catch {
    return PARSE.formerr;
  }
  const h = packet.header;
  const decoded = [packet.questions, packet.answers, packet.authorities, packet.additionals];
  const counts = [h.qdcount, h.ancount, h.nscount, h.arcount];
  // dns2 skips a record it cannot decode (and keeps going), so a short section means a malformed message.
  if (decoded.some((records, i) => records.filter((r) => r != null).length !== counts[i])) return PARSE.formerr;
  const opts = packet.additionals.filter((r) => r.type === QTYPE.OPT);
  if (opts.length > 1) return PARSE.formerr;
  const opt = opts[0] as (Resource & { version?: number; doFlag?: boolean }) | undefined;
  if (opt) q.setEdns(opt.class, opt.version ?? 0, opt.doFlag === true);
  return PARSE.ok;
}
