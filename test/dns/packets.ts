// Query bytes for mesh-dns tests, written out by hand (not through the code under test), and a decoder
// (dns2's) to read answers back.
import { Packet } from "dns2";

/** What a test query says. */
export interface QuerySpec {
  id?: number;
  name: string;
  type?: number;
  qclass?: number;
  rd?: boolean;
  cd?: boolean;
  opcode?: number;
  /** An OPT record: payload size, DO bit, version, raw option bytes (e.g. a cookie). */
  edns?: { size: number; do?: boolean; version?: number; options?: Buffer };
}

/** A query message. The name is written with the case given (labels split on dots). */
export function query(spec: QuerySpec): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(spec.id ?? 0x1234, 0);
  header[2] = ((spec.opcode ?? 0) << 3) | (spec.rd === false ? 0 : 1);
  header[3] = spec.cd ? 0x10 : 0;
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(spec.edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(spec.type ?? 1, 0);
  tail.writeUInt16BE(spec.qclass ?? 1, 2);
  return Buffer.concat([header, wireName(spec.name), tail, spec.edns ? opt(spec.edns) : Buffer.alloc(0)]);
}

/** Wire labels of a dotted name, case kept. */
export function wireName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".").filter((l) => l !== "");
  return Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, "latin1")]), Buffer.from([0])]);
}

/** An OPT record. */
export function opt(e: { size: number; do?: boolean; version?: number; options?: Buffer }): Buffer {
  const options = e.options ?? Buffer.alloc(0);
  const b = Buffer.alloc(11);
  b.writeUInt16BE(41, 1);
  b.writeUInt16BE(e.size, 3);
  b[6] = e.version ?? 0;
  b[7] = e.do ? 0x80 : 0;
  b.writeUInt16BE(options.length, 9);
  return Buffer.concat([b, options]);
}

/** Decoded answer: header fields and records as dns2 reads them. */
export function decode(msg: Buffer): Packet {
  return Packet.parse(msg);
}

/** Header fields of a message, read directly. */
export function header(msg: Buffer): { id: number; qr: boolean; opcode: number; aa: boolean; tc: boolean; rd: boolean; ra: boolean; cd: boolean; rcode: number; qd: number; an: number; ns: number; ar: number } {
  return {
    id: msg.readUInt16BE(0),
    qr: (msg[2]! & 0x80) !== 0,
    opcode: (msg[2]! >> 3) & 0x0f,
    aa: (msg[2]! & 0x04) !== 0,
    tc: (msg[2]! & 0x02) !== 0,
    rd: (msg[2]! & 0x01) !== 0,
    ra: (msg[3]! & 0x80) !== 0,
    cd: (msg[3]! & 0x10) !== 0,
    rcode: msg[3]! & 0x0f,
    qd: msg.readUInt16BE(4),
    an: msg.readUInt16BE(6),
    ns: msg.readUInt16BE(8),
    ar: msg.readUInt16BE(10),
  };
}
