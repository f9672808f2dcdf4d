// DNS wire format, the parts mesh-dns reads and writes by hand (RFC 1035 §4, RFC 6891 for EDNS):
// constants, name encoding, and a query parser that reads a query without allocating objects.
// Why by hand: dns2's Packet parser and writer cap a server near 14k queries/s (LIBRARIES.md); a query is
// a 12-byte header, one name and four bytes, and reading those directly is what keeps mesh-dns near dnsmasq.

/** Record types mesh-dns looks at. */
export const QTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, OPT: 41, ANY: 255 } as const;
/** Classes: IN, and ANY (a query may ask for either). */
export const QCLASS = { IN: 1, ANY: 255 } as const;
/** Response codes (BADVERS is an extended code: its high bits travel in the OPT record). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

/** Size of the fixed DNS header. */
export const HEADER_SIZE = 12;
/** Largest UDP answer a client without EDNS accepts (RFC 1035 §4.2.1). */
export const UDP_DEFAULT_LIMIT = 512;
/** Largest UDP payload size mesh-dns advertises or honours in an EDNS echo. */
export const EDNS_MAX_PAYLOAD = 4096;
/** Size of an OPT record with no options: root name, type, class, TTL, RDLENGTH. */
export const OPT_SIZE = 11;

/** What `QueryParser.parse` found. Plain numbers: the hot path compares them without allocating. */
export const PARSE = {
  /** A standard query: one question, at most one OPT record. Answer it or forward it. */
  ok: 0,
  /** Not worth an answer: shorter than a header, or a response (QR=1; answering those invites loops). */
  drop: 1,
  /** Malformed: answer FORMERR (header only, or with the question when it was read). */
  formerr: 2,
  /** An opcode other than QUERY: answer NOTIMP. */
  notimp: 3,
  /** Well-formed question but unusual other sections (answers, authorities, several additionals):
   * let the slow path (dns2's parser) check the whole message. */
  complex: 4,
} as const;
/** One of the PARSE values. */
export type ParseResult = (typeof PARSE)[keyof typeof PARSE];

/** The lookup key of a name: its wire form (length-prefixed labels, final zero byte) in lower case, as a
 * latin1 string. `user.mesh.` → "\x04user\x04mesh\x00". Throws on names that are not valid DNS names. */
export function nameKey(name: string): string {
  return encodeName(name.toLowerCase()).toString("latin1");
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a (32 bits) of bytes [start, end): the hash of a lower-case wire name. `QueryParser` computes the
 * same while it reads a question, so a lookup hashes nothing again. */
export function nameHash(bytes: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return h >>> 0;
}

/** Encodes a dotted name (trailing dot optional, "" or "." is the root) as uncompressed wire labels. */
export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  const labels = trimmed === "" ? [] : trimmed.split(".");
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, "latin1");
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`DNS name "${name}": label "${label}" must be 1–63 bytes`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new Error(`DNS name "${name}" is longer than 255 bytes`);
  return out;
}

/** Reads a query's header, question and OPT record into its own fields; `parse` returns a PARSE value.
 * One parser is reused for every query of a socket (the fields are overwritten), so parsing allocates
 * nothing: the lower-case name stays in the parser's own buffer with its hash, which is what the zone's
 * table is looked up by. */
export class QueryParser {
  /** Opcode (0 = QUERY). */
  opcode = 0;
  /** Offset just past QTYPE/QCLASS: bytes [0, questionEnd) are the header and the question. 0 when the
   * question could not be read. */
  questionEnd = 0;
  qtype = 0;
  qclass = 0;
  /** The question name in lower case, as wire labels (what `nameKey` encodes): bytes [0, nameLength). */
  readonly name = Buffer.allocUnsafe(256);
  nameLength = 0;
  /** `nameHash` of the lower-case name, computed while it is read (the zone's table is keyed by it). */
  hash = 0;
  /** Whether the query carries an OPT record (EDNS), and what it says. */
  edns = false;
  ednsSize = UDP_DEFAULT_LIMIT;
  ednsDo = false;
  ednsVersion = 0;

  /** The question name as `nameKey` would build it (lower case). Builds a string: not for the hot path. */
  get key(): string {
    return this.name.toString("latin1", 0, this.nameLength);
  }

  /** Parses `msg`. Never throws: anything malformed is a PARSE value. */
  parse(msg: Buffer): ParseResult {
    this.questionEnd = 0;
    this.nameLength = 0;
    this.edns = false;
    this.ednsSize = UDP_DEFAULT_LIMIT;
    this.ednsDo = false;
    this.ednsVersion = 0;
    const len = msg.length;
    if (len < HEADER_SIZE || (msg[2]! & 0x80) !== 0) return PARSE.drop;
    this.opcode = (msg[2]! >> 3) & 0x0f;
    if (msg[4] !== 0 || msg[5] !== 1) return this.opcode !== 0 ? PARSE.notimp : PARSE.formerr;
    const p = this.readQuestion(msg);
    if (p < 0) return PARSE.formerr;
    this.questionEnd = p;
    if (this.opcode !== 0) return PARSE.notimp;
    const ancount = (msg[6]! << 8) | msg[7]!;
    const nscount = (msg[8]! << 8) | msg[9]!;
    const arcount = (msg[10]! << 8) | msg[11]!;
    if (ancount !== 0 || nscount !== 0 || arcount > 1) return PARSE.complex;
    if (arcount === 0) return PARSE.ok;
    return this.readOpt(msg, p);
  }

  /** Reads QNAME (lower-casing it into `name` and hashing it), QTYPE and QCLASS; returns the offset after
   * them, or -1. */
  private readQuestion(msg: Buffer): number {
    const len = msg.length;
    const s = this.name;
    let p = HEADER_SIZE;
    let n = 0;
    let h = FNV_OFFSET;
    for (;;) {
      if (p >= len) return -1;
      const l = msg[p++]!;
      s[n++] = l;
      h = Math.imul(h ^ l, FNV_PRIME);
      if (l === 0) break;
      // > 63: a compression pointer (nothing precedes a query's question to point at) or a reserved label type.
      if (l > 63 || p + l > len || n + l >= 255) return -1; // the whole name, final zero included, ≤ 255
      for (let end = p + l; p < end; p++) {
        const c = msg[p]!;
        const lower = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
        s[n++] = lower;
        h = Math.imul(h ^ lower, FNV_PRIME);
      }
    }
    if (p + 4 > len) return -1;
    this.qtype = (msg[p]! << 8) | msg[p + 1]!;
    this.qclass = (msg[p + 2]! << 8) | msg[p + 3]!;
    this.nameLength = n;
    this.hash = h >>> 0;
    return p + 4;
  }

  /** Reads the one additional record, which must be an OPT record for the fast path. */
  private readOpt(msg: Buffer, p: number): ParseResult {
    if (p + OPT_SIZE > msg.length) return PARSE.formerr;
    if (msg[p] !== 0 || msg[p + 1] !== 0 || msg[p + 2] !== QTYPE.OPT) return PARSE.complex;
    const rdlen = (msg[p + 9]! << 8) | msg[p + 10]!;
    if (p + OPT_SIZE + rdlen > msg.length) return PARSE.formerr;
    this.setEdns((msg[p + 3]! << 8) | msg[p + 4]!, msg[p + 6]!, (msg[p + 7]! & 0x80) !== 0);
    return PARSE.ok;
  }

  /** Records the query's EDNS settings (also used by the slow path, which reads them with dns2). */
  setEdns(size: number, version: number, dnssecOk: boolean): void {
    this.edns = true;
    this.ednsSize = size;
    this.ednsVersion = version;
    this.ednsDo = dnssecOk;
  }

  /** Largest UDP answer this query's client accepts: 512, or its EDNS payload size (never below 512). */
  udpLimit(): number {
    return this.edns && this.ednsSize > UDP_DEFAULT_LIMIT ? this.ednsSize : UDP_DEFAULT_LIMIT;
  }
}

/** Offset just past the question of a message (header + first question), or -1 when it cannot be read.
 * Follows no compression pointer: a question that uses one is never the first name of a message. */
export function questionEnd(msg: Buffer): number {
  if (msg.length < HEADER_SIZE || ((msg[4]! << 8) | msg[5]!) === 0) return HEADER_SIZE;
  let p = HEADER_SIZE;
  for (;;) {
    if (p >= msg.length) return -1;
    const l = msg[p++]!;
    if (l === 0) break;
    if (l > 63) return -1;
    p += l;
  }
  return p + 4 <= msg.length ? p + 4 : -1;
}
