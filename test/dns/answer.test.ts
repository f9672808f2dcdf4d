// mesh-dns's pure core: zone building, the hand parser, byte-exact answers, EDNS, the dns2 slow path,
// truncation, and garbage that must never throw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  PARSE, QueryParser, RCODE, buildZone, checkComplexQuery, encodeA, errorAnswer, formatZoneChange, meshServiceNames, nameKey, truncateForUdp, zoneAnswer, zoneDiff,
} from "../../src/dns/index.js";
import { decode, header, opt, query, wireName } from "./packets.js";

const zone = buildZone(["user", "Cart"], { serviceIP: "10.255.0.1", domain: "mesh", ttl: 5 });

function answer(msg: Buffer): Buffer | null {
  const q = new QueryParser();
  let r = q.parse(msg);
  if (r === PARSE.complex) r = checkComplexQuery(msg, q);
  assert.equal(r, PARSE.ok);
  return zoneAnswer(zone, msg, q);
}

test("an A query for a service gets the exact answer: the query's header and question, then the A record", () => {
  const msg = query({ id: 0xbeef, name: "user" });
  const got = answer(msg)!;
  const expected = Buffer.concat([
    Buffer.from("beef" + "8580" + "0001" + "0001" + "0000" + "0000", "hex"), // QR AA RD RA, 1 question, 1 answer
    wireName("user"),
    Buffer.from("00010001", "hex"),
    Buffer.from("c00c" + "0001" + "0001" + "00000005" + "0004" + "0aff0001", "hex"), // ptr to the question, A IN, TTL 5, 10.255.0.1
  ]);
  assert.deepEqual(got, expected);
  const p = decode(got);
  assert.equal(p.answers[0]!.name, "user");
  assert.equal(p.answers[0]!.address, "10.255.0.1");
});

test("only the ID differs between answers to the same question", () => {
  const a = answer(query({ id: 1, name: "user.mesh" }))!;
  const b = answer(query({ id: 0xfffe, name: "user.mesh" }))!;
  assert.equal(a.readUInt16BE(0), 1);
  assert.equal(b.readUInt16BE(0), 0xfffe);
  assert.deepEqual(a.subarray(2), b.subarray(2));
});

test("names are case-insensitive and a trailing dot changes nothing; the question echoes the client's case", () => {
  for (const name of ["USER", "User.Mesh", "user.mesh.", "cart", "CART.MESH"]) {
    const got = answer(query({ name }))!;
    assert.equal(header(got).an, 1, name);
    assert.equal(decode(got).questions[0]!.name, name.replace(/\.$/, ""), `${name}: question echoed as sent`);
    assert.equal(decode(got).answers[0]!.address, "10.255.0.1");
  }
});

test("AAAA and other types of a mesh name are NODATA: NOERROR, authoritative, no answer", () => {
  for (const type of [28, 16, 15, 5]) {
    const got = answer(query({ name: "user.mesh", type }))!;
    const h = header(got);
    assert.deepEqual([h.rcode, h.aa, h.an, h.qd], [RCODE.NOERROR, true, 0, 1], `type ${type}`);
  }
  assert.equal(header(answer(query({ name: "user", type: 255 }))!).an, 1, "ANY gets the A record");
  assert.equal(header(answer(query({ name: "mesh" }))!).an, 0, "the domain's apex exists but has no address");
});

test("unknown names under the mesh domain are NXDOMAIN; every other name is forwarded (null)", () => {
  const nx = answer(query({ name: "nope.mesh" }))!;
  assert.equal(header(nx).rcode, RCODE.NXDOMAIN);
  assert.equal(header(nx).aa, true);
  assert.equal(header(answer(query({ name: "a.user.mesh" }))!).rcode, RCODE.NXDOMAIN);
  assert.equal(answer(query({ name: "example.com" })), null);
  assert.equal(answer(query({ name: "userx" })), null);
  assert.equal(answer(query({ name: "user.meshy" })), null);
});

test("EDNS: the OPT record comes back with the client's payload size (512…4096) and DO bit; flags RD/CD copied", () => {
  const got = answer(query({ name: "user", edns: { size: 1232, do: true }, cd: true, rd: false }))!;
  const h = header(got);
  assert.deepEqual([h.ar, h.rd, h.cd, h.ra, h.aa], [1, false, true, true, true]);
  assert.deepEqual(got.subarray(got.length - 11), opt({ size: 1232, do: true }));
  const big = answer(query({ name: "user", edns: { size: 65000 } }))!;
  assert.deepEqual(big.subarray(big.length - 11), opt({ size: 4096 }));
  const cookie = Buffer.from("000a0008" + "0102030405060708", "hex");
  const withOption = answer(query({ name: "user", edns: { size: 4096, options: cookie } }))!;
  assert.deepEqual(withOption.subarray(withOption.length - 11), opt({ size: 4096 }), "options are not echoed");
  assert.equal(decode(withOption).answers.length, 1);
});

test("EDNS version 1 gets BADVERS (extended RCODE 16 in the OPT record), no answer", () => {
  const got = answer(query({ name: "user", edns: { size: 1232, version: 1 } }))!;
  assert.equal(header(got).rcode, 0);
  assert.equal(header(got).an, 0);
  assert.equal(got[got.length - 6], 1, "extended RCODE high bits: 16 >> 4");
});

test("unusual messages go through dns2: OPT plus another additional record still gets answered", () => {
  const tsigish = Buffer.concat([wireName("key"), Buffer.from("00100001" + "00000000" + "0003" + "026869", "hex")]); // a TXT record
  const msg = query({ name: "user", edns: { size: 1400, do: true } });
  msg.writeUInt16BE(2, 10);
  const full = Buffer.concat([msg, tsigish]);
  const q = new QueryParser();
  assert.equal(q.parse(full), PARSE.complex);
  assert.equal(checkComplexQuery(full, q), PARSE.ok);
  assert.equal(q.ednsSize, 1400);
  assert.equal(q.ednsDo, true);
  assert.equal(decode(zoneAnswer(zone, full, q)!).answers[0]!.address, "10.255.0.1");

  const twoOpts = Buffer.concat([msg.subarray(0, msg.length), opt({ size: 512 })]);
  assert.equal(checkComplexQuery(twoOpts, q), PARSE.formerr, "two OPT records");
  const cut = Buffer.concat([msg, tsigish.subarray(0, 6)]);
  assert.equal(checkComplexQuery(cut, q), PARSE.formerr, "a record cut short");
});

test("garbage: short → dropped; responses → dropped; bad question → FORMERR; QDCOUNT 0 → FORMERR; other opcodes → NOTIMP", () => {
  const q = new QueryParser();
  assert.equal(q.parse(Buffer.from("0102", "hex")), PARSE.drop);
  const resp = answer(query({ name: "user" }))!;
  assert.equal(q.parse(resp), PARSE.drop, "a response is never answered");
  const noQuestion = query({ name: "user" });
  noQuestion.writeUInt16BE(0, 4);
  assert.equal(q.parse(noQuestion), PARSE.formerr);
  const two = query({ name: "user" });
  two.writeUInt16BE(2, 4);
  assert.equal(q.parse(two), PARSE.formerr);
  assert.equal(q.parse(query({ name: "user" }).subarray(0, 17)), PARSE.formerr, "name cut short");
  assert.equal(q.parse(query({ name: "user" }).subarray(0, 19)), PARSE.formerr, "qtype cut short");
  const pointer = Buffer.concat([query({ name: "x" }).subarray(0, 12), Buffer.from("c00c00010001", "hex")]);
  assert.equal(q.parse(pointer), PARSE.formerr, "compression in the question");
  const huge = Buffer.concat([query({ name: "x" }).subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from("0000010001", "hex")]);
  assert.equal(q.parse(huge), PARSE.formerr, "a 64-byte label");
  const long = query({ name: Array.from({ length: 5 }, () => "a".repeat(63)).join(".") });
  assert.equal(q.parse(long), PARSE.formerr, "a name over 255 bytes");
  assert.equal(q.parse(query({ name: "user", opcode: 2 })), PARSE.notimp);

  q.parse(noQuestion);
  const formerr = errorAnswer(noQuestion, q, RCODE.FORMERR);
  assert.deepEqual(header(formerr), { ...header(noQuestion), qr: true, ra: true, rcode: RCODE.FORMERR, qd: 0 });
  assert.equal(formerr.length, 12);
  q.parse(query({ name: "User", opcode: 2 }));
  const notimp = errorAnswer(query({ name: "User", opcode: 2 }), q, RCODE.NOTIMP);
  assert.deepEqual([header(notimp).rcode, header(notimp).opcode, header(notimp).qd], [RCODE.NOTIMP, 2, 1]);
});

test("random bytes never throw and never get more than an error answer", () => {
  const q = new QueryParser();
  for (let i = 0; i < 5000; i++) {
    const msg = randomBytes(i % 80);
    if (i % 3 === 0 && msg.length >= 12) {
      msg[2] = msg[2]! & 0x7f;
      msg[4] = 0;
      msg[5] = 1;
    }
    let r = q.parse(msg);
    if (r === PARSE.complex) r = checkComplexQuery(msg, q);
    if (r === PARSE.ok) zoneAnswer(zone, msg, q);
    else if (r !== PARSE.drop) assert.ok(errorAnswer(msg, q, RCODE.FORMERR).length <= Math.max(msg.length, 12) + 11);
  }
});

test("truncateForUdp: over the limit → header + question, TC=1, no records; under it → the same buffer", () => {
  const resp = answer(query({ name: "user.mesh" }))!;
  assert.equal(truncateForUdp(resp, 512), resp);
  const cut = truncateForUdp(resp, 30);
  assert.equal(header(cut).tc, true);
  assert.deepEqual([header(cut).qd, header(cut).an, header(cut).ar], [1, 0, 0]);
  assert.equal(cut.length, 12 + wireName("user.mesh").length + 4);
  assert.ok(!header(resp).tc, "the original is not modified");
});

test("zone building: service names must be DNS labels, consul itself is left out; diffs and log lines", () => {
  assert.deepEqual(meshServiceNames(["user", "consul", "Cart", "bad_name", "web-1", "-x"]), { names: ["cart", "user", "web-1"], skipped: ["-x", "bad_name"] });
  assert.equal(nameKey("User.Mesh."), "\x04user\x04mesh\x00");
  assert.deepEqual(encodeA("10.0.0.9", 30).toString("hex"), "c00c000100010000001e00040a000009");
  assert.deepEqual(zoneDiff(["a", "b"], ["b", "c"]), { added: ["c"], removed: ["a"] });
  assert.equal(formatZoneChange(2, { added: ["c"], removed: ["a"] }), "zone: 2 services (+c, -a)");
  assert.equal(formatZoneChange(12, { added: Array.from({ length: 12 }, (_, i) => `s${i}`), removed: [] }).split(", ").at(-1), "+2 more)");
  assert.throws(() => buildZone(["x"], { serviceIP: "::1", domain: "mesh", ttl: 5 }), /not an IPv4/);
  const multi = buildZone(["user"], { serviceIP: "10.0.0.1", domain: "svc.corp", ttl: 5 });
  const q = new QueryParser();
  const msg = query({ name: "user.svc.corp" });
  q.parse(msg);
  assert.equal(header(zoneAnswer(multi, msg, q)!).an, 1);
});
