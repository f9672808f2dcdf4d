// mesh-dns's byte-keyed fast path (the parser hashes the lower-case name; the zone's table compares bytes)
// against a slow reference written here: dns2 decodes the query, names are compared as lower-case strings,
// the expected answer is assembled field by field. Random names, case (0x20), types, classes and EDNS, from
// a fixed seed so a failure repeats.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Packet } from "dns2";
import { PARSE, QueryParser, buildZone, nameHash, nameKey, zoneAnswer, type Zone } from "../../src/dns/index.js";
import { query, type QuerySpec } from "./packets.js";
import { prng } from "../support/random-repo.js";

const IP = [10, 255, 0, 1];
const TTL = 5;

/** What mesh-dns must answer, the slow way: null = forward. */
function reference(msg: Buffer, services: Set<string>, domain: string): Buffer | null {
  const p = Packet.parse(msg);
  const q = p.questions[0]!;
  const name = q.name.toLowerCase().replace(/\.$/, "");
  const opt = p.additionals.find((r) => r.type === 41) as { class: number; doFlag?: boolean; version?: number } | undefined;
  const bare = name.endsWith(`.${domain}`) ? name.slice(0, -domain.length - 1) : null;
  const known = services.has(name) || (bare !== null && services.has(bare)) || name === domain;
  if (!known && !name.endsWith(`.${domain}`)) return null;
  const rcode = known ? 0 : 3;
  const withA = known && name !== domain && (q.type === 1 || q.type === 255) && (q.class === 1 || q.class === 255);
  const qEnd = msg.length - (opt ? 11 + msg.readUInt16BE(msg.length - 2) : 0);
  const head = Buffer.alloc(12);
  msg.copy(head, 0, 0, 2);
  head[2] = 0x80 | (msg[2]! & 0x79) | 0x04;
  head[3] = 0x80 | (msg[3]! & 0x10) | rcode;
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(withA ? 1 : 0, 6);
  head.writeUInt16BE(opt ? 1 : 0, 10);
  const a = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, TTL, 0, 4, ...IP]);
  const optOut = Buffer.alloc(11);
  if (opt) {
    optOut.writeUInt16BE(41, 1);
    optOut.writeUInt16BE(Math.min(Math.max(opt.class, 512), 4096), 3);
    optOut[7] = opt.doFlag ? 0x80 : 0;
  }
  return Buffer.concat([head, msg.subarray(12, qEnd), withA ? a : Buffer.alloc(0), opt ? optOut : Buffer.alloc(0)]);
}

function randomCase(name: string, rand: () => number): string {
  return [...name].map((c) => (rand() < 0.5 ? c.toUpperCase() : c)).join("");
}

function randomName(services: string[], domain: string, rand: () => number): string {
  const s = services[Math.floor(rand() * services.length)]!;
  const pick = Math.floor(rand() * 9);
  const mutated = s.slice(0, -1) + String.fromCharCode(s.charCodeAt(s.length - 1) ^ 1); // one letter off
  return [s, `${s}.${domain}`, `${s}.${domain}.`, domain, `nope-${s}.${domain}`, `a.${s}.${domain}`, `${s}.example.com`, mutated, `${s}.${domain}x`][pick]!;
}

function answerOf(zone: Zone, msg: Buffer, q: QueryParser): Buffer | null {
  assert.equal(q.parse(msg), PARSE.ok);
  return zoneAnswer(zone, msg, q);
}

for (const [domain, count] of [["mesh", 50], ["svc.corp", 3000]] as const) {
  test(`fast path = slow reference for 4000 random queries (${count} services, domain ${domain}; case, types, classes, EDNS)`, () => {
    const rand = prng(count);
    const services = Array.from({ length: count }, (_, i) => `svc-${i.toString(36)}${"abcdefgh"[i % 8]}`);
    const zone = buildZone(services.map((s) => randomCase(s, rand)), { serviceIP: IP.join("."), domain, ttl: TTL });
    const set = new Set(services);
    const q = new QueryParser();
    let hits = 0;
    for (let i = 0; i < 4000; i++) {
      const spec: QuerySpec = {
        id: Math.floor(rand() * 65536),
        name: randomCase(randomName(services, domain, rand), rand),
        type: [1, 1, 28, 255, 16, 5][Math.floor(rand() * 6)],
        qclass: [1, 1, 1, 255, 3][Math.floor(rand() * 5)],
        rd: rand() < 0.8,
        cd: rand() < 0.2,
        edns: rand() < 0.5 ? { size: Math.floor(rand() * 70000) % 65536, do: rand() < 0.5 } : undefined,
      };
      const msg = query(spec);
      const got = answerOf(zone, msg, q);
      const want = reference(msg, set, domain);
      assert.deepEqual(got, want, `query ${i}: ${JSON.stringify(spec)}`);
      if (got && got.readUInt16BE(6) === 1) hits++;
    }
    assert.ok(hits > 400, `enough of the queries got an address (${hits})`);
  });
}

test("the zone's byte table agrees with its string map, name by name, colliding slots included", () => {
  const services = Array.from({ length: 5000 }, (_, i) => `n${i}`);
  const zone = buildZone(services, { serviceIP: "10.0.0.1", domain: "mesh", ttl: 5 });
  const q = new QueryParser();
  const probes = [...services, ...services.map((s) => `${s}.mesh`), ...services.map((s) => `${s}x`), "mesh", "x.mesh", "MESH", "n1.MESH"];
  for (const name of probes) {
    const msg = query({ name });
    q.parse(msg);
    const key = nameKey(name);
    assert.equal(q.key, key, name);
    assert.equal(q.hash, nameHash(Buffer.from(key, "latin1"), 0, key.length), `${name}: the parser's hash is nameHash`);
    assert.equal(zone.find(q.name, q.nameLength, q.hash), zone.lookup(key), name);
    assert.equal(zone.nameInDomain(q.name, q.nameLength), zone.inDomain(key), name);
  }
  // Same hash, other bytes: a lookup must compare the name, not trust the hash.
  const known = nameKey("n42");
  const stranger = Buffer.from(nameKey("zz"), "latin1");
  assert.equal(zone.find(stranger, stranger.length, nameHash(Buffer.from(known, "latin1"), 0, known.length)), undefined);
});
