// mesh-dns's batched UDP path (native/udp-batch through src/adapters/dns-server/udp-batch.ts) on real sockets:
// bursts from several client sockets read in batches and answered to the right source, forwarding from the
// middle of a batch (a dnsmasq upstream started here), IPv6, a datagram as large as UDP allows, closing in the
// middle of a batch, and the fallback to node:dgram when the addon is not there.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildZone } from "../../src/dns/index.js";
import { MeshDnsServer, runMeshDns, udpIoSetting, type MeshDnsOptions, type ServiceCatalog } from "../../src/adapters/dns-server/index.js";
import { BatchUdp, loadUdpBatch } from "../../src/adapters/dns-server/udp-batch.js";
import { decode, header, opt, query, wireName } from "./packets.js";
import { batchAddon, compileAddon, startDnsmasq, type Dnsmasq } from "./tools.js";

const MESH_IP = "10.255.0.1";
const ZONE = { serviceIP: MESH_IP, domain: "mesh", ttl: 5 };
const addon = batchAddon();

async function startServer(o: Partial<MeshDnsOptions> = {}): Promise<{ server: MeshDnsServer; port: number }> {
  const server = new MeshDnsServer(buildZone(["user", "cart"], ZONE), {
    listen: ["127.0.0.1"], port: 0, upstreams: [], upstreamTimeoutMs: 1000, udpIo: "batch", addonPaths: [addon.path], ...o,
  });
  const [bound] = await server.start();
  return { server, port: bound!.port };
}

/** Client sockets bound to the loopback of `family`; each collects what it receives. */
async function clients(n: number, family: 4 | 6): Promise<{ socket: Socket; got: Buffer[] }[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const socket = createSocket(family === 4 ? "udp4" : "udp6");
      const got: Buffer[] = [];
      socket.on("message", (m) => got.push(m));
      await new Promise<void>((r) => socket.bind(0, family === 4 ? "127.0.0.1" : "::1", () => r()));
      return { socket, got };
    }),
  );
}

async function until(what: string, ms: number, done: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The name a query asks, from bytes 12… of an answer (the question is echoed byte for byte). */
const asked = (msg: Buffer): string => msg.subarray(12, 12 + wireName("x").length + 64).toString("latin1");

/** Sends `perSocket` queries from every client in one go (all queued before the server's loop reads), each
 * with an ID unique in the run, and checks every client got exactly its own answers. */
async function burst(port: number, family: 4 | 6, cs: { socket: Socket; got: Buffer[] }[], perSocket: number, name: (id: number) => string): Promise<Map<number, Buffer>> {
  const sent = new Map<number, { client: number; q: Buffer }>();
  cs.forEach((c, ci) => {
    for (let j = 0; j < perSocket; j++) {
      const id = ci * perSocket + j + 1;
      const q = query({ id, name: name(id), edns: { size: 1232 } });
      sent.set(id, { client: ci, q });
      c.socket.send(q, port, family === 4 ? "127.0.0.1" : "::1");
    }
  });
  await until("every query answered", 10_000, () => cs.reduce((n, c) => n + c.got.length, 0) >= sent.size);
  const answers = new Map<number, Buffer>();
  cs.forEach((c, ci) => {
    for (const a of c.got) {
      const id = a.readUInt16BE(0);
      assert.equal(sent.get(id)?.client, ci, `answer ${id} reached client ${ci}, which did not send it`);
      assert.ok(!answers.has(id), `answer ${id} came twice`);
      const q = sent.get(id)!.q;
      assert.ok(a.subarray(12, 12 + wireName(name(id)).length).equals(q.subarray(12, 12 + wireName(name(id)).length)), `answer ${id} echoes its question (${asked(a)})`);
      answers.set(id, a);
    }
  });
  assert.equal(answers.size, sent.size);
  return answers;
}

describe("mesh-dns batched UDP I/O", { skip: addon.skip }, () => {
  let upstream: Dnsmasq;
  const cleanup: (() => unknown)[] = [];
  before(async () => {
    upstream = await startDnsmasq(["--address=/example.test/192.0.2.7"]);
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c();
    await upstream?.stop();
  });

  it("a burst of 600 queries from 6 sockets is read in batches and each answer goes to its own socket with its own ID", async () => {
    const { server, port } = await startServer();
    cleanup.push(() => server.close());
    const cs = await clients(6, 4);
    cleanup.push(() => cs.forEach((c) => c.socket.close()));
    const names = ["user", "CaRt.MESH", "nope.mesh", "User.Mesh."];
    const answers = await burst(port, 4, cs, 100, (id) => names[id % names.length]!);
    for (const [id, a] of answers) {
      const h = header(a);
      const nx = names[id % names.length] === "nope.mesh";
      assert.equal(h.rcode, nx ? 3 : 0, `answer ${id}`);
      assert.equal(h.ar, 1, "EDNS echoed");
      if (!nx) assert.equal(decode(a).answers[0]!.address, MESH_IP);
    }
    assert.equal(server.udpIo, "batch");
    const b = server.udpBatches();
    assert.equal(b.datagrams, 600);
    assert.ok(b.largest > 1 && b.batches < 600, `read in batches: ${JSON.stringify(b)}`);
    assert.equal(server.stats.zone, 600);
  });

  it("a forwarded query in the middle of a batch gets the upstream's answer later, to its socket, with its ID", async () => {
    const { server, port } = await startServer({ upstreams: [{ host: "127.0.0.1", port: upstream.port, family: 4 }] });
    cleanup.push(() => server.close());
    const cs = await clients(2, 4);
    cleanup.push(() => cs.forEach((c) => c.socket.close()));
    // IDs 1–40 from the first socket, 41–80 from the second: 20 and 60 go upstream.
    const answers = await burst(port, 4, cs, 40, (id) => (id === 20 || id === 60 ? `www${id}.Example.test` : "user"));
    for (const [id, a] of answers) assert.equal(decode(a).answers[0]!.address, id === 20 || id === 60 ? "192.0.2.7" : MESH_IP, `answer ${id}`);
    assert.equal(server.stats.forwarded, 2);
    assert.equal(server.stats.relayed, 2);
    assert.ok(server.udpBatches().largest > 1);
  });

  it("IPv6: a burst on ::1 from several sockets, each answered at its own address and port", async () => {
    const { server, port } = await startServer({ listen: ["::1"] });
    cleanup.push(() => server.close());
    const cs = await clients(3, 6);
    cleanup.push(() => cs.forEach((c) => c.socket.close()));
    const answers = await burst(port, 6, cs, 50, (id) => (id % 2 ? "user.mesh" : "cart"));
    assert.equal(answers.size, 150);
    assert.ok(server.udpBatches().largest > 1);
  });

  it("a datagram as large as UDP allows is read whole (answered as node:dgram answers it); one shorter than a header is dropped", async () => {
    // An EDNS query whose OPT record carries ~65,000 bytes of padding (RFC 7830): a cut datagram would be FORMERR.
    const padding = Buffer.alloc(65_000);
    padding.writeUInt16BE(12, 0);
    padding.writeUInt16BE(padding.length - 4, 2);
    const head = query({ id: 77, name: "user.mesh" });
    head.writeUInt16BE(1, 10);
    const big = Buffer.concat([head, opt({ size: 1232, options: padding })]);
    const answers: Buffer[][] = [];
    for (const udpIo of ["batch", "dgram"] as const) {
      const { server, port } = await startServer({ udpIo });
      cleanup.push(() => server.close());
      const [c] = await clients(1, 4);
      cleanup.push(() => c!.socket.close());
      c!.socket.send(Buffer.from([0, 1, 2]), port, "127.0.0.1");
      c!.socket.send(big, port, "127.0.0.1");
      c!.socket.send(query({ id: 78, name: "cart" }), port, "127.0.0.1");
      await until(`${udpIo}: two answers`, 5000, () => c!.got.length >= 2);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(c!.got.map((a) => a.readUInt16BE(0)).sort(), [77, 78], `${udpIo}: the 3-byte datagram gets nothing`);
      assert.equal(server.stats.dropped, 1);
      answers.push(c!.got.sort((a, b) => a.readUInt16BE(0) - b.readUInt16BE(0)));
    }
    assert.equal(header(answers[0]![0]!).rcode, 0, "the big query is answered, not FORMERR");
    assert.equal(decode(answers[0]![0]!).answers[0]!.address, MESH_IP);
    assert.deepEqual(answers[0], answers[1], "byte for byte what node:dgram answers");
  });

  it("closing in the middle of a batch: the rest is neither handled nor answered, the port is free again, nothing breaks", async () => {
    const loaded = loadUdpBatch([addon.path]);
    assert.ok("addon" in loaded, "error" in loaded ? loaded.error : "");
    const seen: number[] = [];
    const udp = BatchUdp.bind(loaded.addon, "127.0.0.1", 0, 1 << 20, (msg, i, socket) => {
      seen.push(msg.readUInt16BE(0));
      if (seen.length === 5) socket.close();
      return Buffer.from(msg);
    });
    const [c] = await clients(1, 4);
    cleanup.push(() => c!.socket.close());
    for (let id = 1; id <= 50; id++) c!.socket.send(query({ id, name: "user" }), udp.port, "127.0.0.1");
    await until("the first batch", 5000, () => seen.length >= 5);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(seen, [1, 2, 3, 4, 5], "nothing handled after close");
    assert.deepEqual(c!.got, [], "the closed batch's answers are not sent");
    udp.sendTo(Buffer.from("late"), new Uint8Array(32)); // a late answer (a relayed reply) after close: dropped
    udp.close(); // twice: nothing
    // The fd is closed: the same port can be bound again.
    const again = createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      again.once("error", reject);
      again.bind(udp.port, "127.0.0.1", () => resolve());
    });
    again.close();
  });

  it("closing the server with queries queued and one in flight upstream: no answer, no error, the process carries on", async () => {
    const hole = createSocket("udp4"); // an upstream that never answers
    await new Promise<void>((r) => hole.bind(0, "127.0.0.1", () => r()));
    cleanup.push(() => hole.close());
    const { server, port } = await startServer({ upstreams: [{ host: "127.0.0.1", port: hole.address().port, family: 4 }] });
    const [c] = await clients(1, 4);
    cleanup.push(() => c!.socket.close());
    c!.socket.send(query({ id: 1, name: "www.example.test" }), port, "127.0.0.1");
    await until("forwarded", 5000, () => server.stats.forwarded === 1);
    for (let id = 2; id <= 30; id++) c!.socket.send(query({ id, name: "user" }), port, "127.0.0.1");
    // Close on the same tick the sends above are flushed on, before the loop reads them.
    await new Promise<void>((r) => process.nextTick(() => void server.close().then(r)));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(c!.got.length < 30, "not every queued query was answered after close");
    assert.ok(!c!.got.some((a) => a.readUInt16BE(0) === 1), "no SERVFAIL after close");
  });
});

describe("mesh-dns without the addon", () => {
  const dir = mkdtempSync(join(tmpdir(), "amphi-dns-batch-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A catalog with two services and nothing else to do (the port runMeshDns reads names from). */
  const catalog: ServiceCatalog = {
    watch(events, signal) {
      events.onServices(["user", "cart"], 1);
      return new Promise((done) => (signal.aborted ? done() : signal.addEventListener("abort", () => done(), { once: true })));
    },
  };

  it("missing, not an addon, or a stale addon: one log line says node:dgram is used and why, and queries are answered", async () => {
    const notAddon = join(dir, "udp-batch.node");
    writeFileSync(notAddon, "not an ELF file\n");
    // A copy built as an earlier amphi would have built it: another ABI number (what a host may still hold).
    const stale = join(dir, "stale", "udp-batch.node");
    mkdirSync(join(dir, "stale"));
    const cases: [string[], RegExp][] = [
      [[join(dir, "missing", "udp-batch.node")], /missing\/udp-batch\.node not built$/],
      [[notAddon], /udp-batch\.node: .*(invalid ELF header|file too short)/],
    ];
    if (!addon.skip) {
      const failed = await compileAddon(stale, ["-DUDP_BATCH_ABI=0"]);
      assert.equal(failed, null);
      cases.push([[stale], /stale\/udp-batch\.node: a stale udp-batch addon \(ABI 0, this program needs 1\); rebuild it/]);
    }
    for (const [paths, why] of cases) {
      const ac = new AbortController();
      const log: string[] = [];
      let port = 0;
      let listened: () => void = () => {};
      const listening = new Promise<void>((resolve) => (listened = resolve));
      const done = runMeshDns(
        {
          zone: ZONE, catalog, log: (l) => log.push(l), firstSyncMs: 100,
          server: { listen: ["127.0.0.1"], port: 0, upstreams: [], upstreamTimeoutMs: 500, udpIo: "auto", addonPaths: paths },
          onListening: (bound) => ((port = bound[0]!.port), listened()),
        },
        ac.signal,
      );
      // A server that fails before it listens fails the test with its error, not after the file's timeout.
      await Promise.race([listening, done.then(() => assert.fail("mesh-dns ended before it listened"))]);
      const [c] = await clients(1, 4);
      c!.socket.send(query({ id: 9, name: "user" }), port, "127.0.0.1");
      await until("answered over node:dgram", 5000, () => c!.got.length === 1);
      c!.socket.close();
      ac.abort();
      await done;
      const notes = log.filter((l) => l.startsWith("udp: "));
      assert.equal(notes.length, 1, log.join("\n"));
      assert.match(notes[0]!, /^udp: node:dgram, not batched: /);
      assert.match(notes[0]!, why);
    }
  });

  it("AMPHI_DNS_IO=batch without the addon is an error naming it; other values are refused; dgram logs that it was asked for", async () => {
    const server = new MeshDnsServer(buildZone([], ZONE), { listen: ["127.0.0.1"], port: 0, upstreams: [], upstreamTimeoutMs: 500, udpIo: "batch", addonPaths: [join(dir, "none.node")] });
    await assert.rejects(server.start(), /AMPHI_DNS_IO=batch.*not available: .*none\.node not built/);
    assert.throws(() => udpIoSetting("fast"), /^Error: AMPHI_DNS_IO=fast: expected auto, batch or dgram$/);
    assert.equal(udpIoSetting(undefined), "auto");
    assert.equal(udpIoSetting("dgram"), "dgram");
    const forced = new MeshDnsServer(buildZone([], ZONE), { listen: ["127.0.0.1"], port: 0, upstreams: [], upstreamTimeoutMs: 500, udpIo: "dgram" });
    await forced.start();
    await forced.close();
    assert.equal(forced.udpIo, "dgram");
    assert.equal(forced.udpIoNote, "udp: node:dgram (AMPHI_DNS_IO=dgram), not batched");
  });
});
