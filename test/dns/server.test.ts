// mesh-dns on real sockets (127.0.0.1, free ports) with real clients (dig, node:dns Resolver), a real
// upstream (dnsmasq started here) and the Consul HTTP API test double (test/support/consul) as the catalog.
// Every suite runs twice: UDP through the batched native path (udp-batch) and through node:dgram.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { ConsulCatalog, runMeshDns, type MeshDnsServer, type UdpIoSetting, type Upstream } from "../../src/adapters/dns-server/index.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { deregister, register } from "./consul.js";
import { decode, header, query, wireName } from "./packets.js";
import { batchAddon, dig, startDnsmasq, type Dnsmasq } from "./tools.js";

const MESH_IP = "10.255.0.1";

/** A mesh-dns started through runMeshDns, with its log. */
interface Mesh {
  port: number;
  server: MeshDnsServer;
  log: string[];
  stop(): Promise<void>;
}

async function startMesh(o: { upstreams: Upstream[]; catalogUrl: string; timeoutMs?: number; tcpIdleMs?: number; listen?: string[]; token?: string; udpIo: UdpIoSetting }): Promise<Mesh> {
  const ac = new AbortController();
  const log: string[] = [];
  let ready: (m: Mesh) => void = () => {};
  const started = new Promise<Mesh>((resolve) => (ready = resolve));
  const done = runMeshDns(
    {
      zone: { serviceIP: MESH_IP, domain: "mesh", ttl: 5 },
      server: { listen: o.listen ?? ["127.0.0.1"], port: 0, upstreams: o.upstreams, upstreamTimeoutMs: o.timeoutMs ?? 1000, tcpIdleMs: o.tcpIdleMs ?? 10_000, udpIo: o.udpIo },
      catalog: new ConsulCatalog({ address: o.catalogUrl, datacenter: null, token: o.token ?? null, waitSeconds: 30 }),
      log: (l) => log.push(l),
      onListening: (bound, server) =>
        ready({
          port: bound[0]!.port,
          server,
          log,
          stop: async () => {
            ac.abort();
            await done;
          },
        }),
    },
    ac.signal,
  );
  return started;
}

function resolver(port: number): Resolver {
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

const local = (port: number): Upstream => ({ host: "127.0.0.1", port, family: 4 });

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends raw datagrams and collects what comes back for `ms`. */
async function rawUdp(port: number, msgs: Buffer[], ms = 300): Promise<Buffer[]> {
  const s: UdpSocket = createSocket("udp4");
  const got: Buffer[] = [];
  s.on("message", (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  for (const m of msgs) s.send(m, port, "127.0.0.1");
  await new Promise((r) => setTimeout(r, ms));
  s.close();
  return got;
}

/** Reads length-prefixed messages from a TCP socket until `n` arrived or it closed. */
function readFrames(sock: Socket, n: number): Promise<{ frames: Buffer[]; closed: boolean }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const frames: Buffer[] = [];
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        frames.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (frames.length >= n) resolve({ frames, closed: false });
    });
    sock.on("close", () => resolve({ frames, closed: true }));
  });
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

const TOKEN = "s3cret-token";

const BIG = Array.from({ length: 60 }, (_, i) => `--host-record=big.example.test,192.0.2.${i + 1}`);

const addon = batchAddon();

for (const udpIo of ["batch", "dgram"] as const) {
  const skip = udpIo === "batch" ? addon.skip : false;

  describe(`amphi dns with a dnsmasq upstream and the Consul double (udp ${udpIo})`, { skip }, () => {
    let upstream: Dnsmasq;
    let consul: ConsulDouble;
    let mesh: Mesh;

    before(async () => {
      upstream = await startDnsmasq(["--address=/example.test/192.0.2.7", ...BIG]);
      consul = await startConsulDouble({ token: TOKEN });
      for (const name of ["user", "cart"]) await register(consul.url, name, TOKEN);
      mesh = await startMesh({ udpIo, upstreams: [local(upstream.port)], catalogUrl: consul.url, tcpIdleMs: 1000, token: TOKEN });
    });
    after(async () => {
      await mesh?.stop();
      await consul?.close();
      await upstream?.stop();
    });

    it("answers registered names with the mesh IP, bare and under .mesh, over UDP and TCP (dig)", async () => {
      for (const args of [["user"], ["user.mesh"], ["CART.Mesh."], ["user", "+tcp"], ["user.mesh", "+norecurse"]]) {
        const r = await dig(mesh.port, args);
        assert.equal(r.status, "NOERROR", args.join(" "));
        assert.ok(r.flags.includes("aa"), `${args.join(" ")}: authoritative (${r.flags})`);
        assert.deepEqual(r.answers.map((a) => [a[3], a[4]]), [["A", MESH_IP]], `${args.join(" ")}\n${r.raw}`);
        assert.equal(r.answers[0]![1], "5", "TTL 5 s");
      }
      const edns = await dig(mesh.port, ["user", "+bufsize=1400", "+dnssec"]);
      assert.equal(edns.udp, 1400, "EDNS payload size echoed");
      assert.match(edns.raw, /EDNS: version: 0, flags: do;/, "DO bit echoed");
      assert.deepEqual((await dig(mesh.port, ["consul"])).answers, [], "Consul's own service is not a mesh name");
    });

    it("answers through node:dns Resolver: A for mesh names, NODATA for AAAA, upstream answers for the rest", async () => {
      const r = resolver(mesh.port);
      assert.deepEqual(await r.resolve4("user"), [MESH_IP]);
      assert.deepEqual(await r.resolve4("user.mesh"), [MESH_IP]);
      await assert.rejects(r.resolve6("user.mesh"), { code: "ENODATA" });
      await assert.rejects(r.resolve4("nope.mesh"), { code: "ENOTFOUND" });
      assert.deepEqual(await r.resolve4("www.example.test"), ["192.0.2.7"]);
    });

    it("relays the upstream's answer unchanged but for the ID", async () => {
      const direct = await dig(upstream.port, ["www.example.test", "+noedns"]);
      const via = await dig(mesh.port, ["www.example.test", "+noedns"]);
      assert.equal(via.status, "NOERROR");
      assert.deepEqual(via.answers, direct.answers);
      assert.deepEqual(via.flags, direct.flags);
      assert.equal(via.msgSize, direct.msgSize);
      assert.equal((await dig(mesh.port, ["other.invalid"])).status, (await dig(upstream.port, ["other.invalid"])).status);
    });

    it("resolves a new registration within 1 s of the catalog change, without a restart", async () => {
      const r = resolver(mesh.port);
      await assert.rejects(r.resolve4("orders.mesh"), { code: "ENOTFOUND" });
      const t0 = Date.now();
      await register(consul.url, "orders", TOKEN);
      await until("orders.mesh resolves", 1000, async () => (await r.resolve4("orders.mesh").catch((): string[] => [])).includes(MESH_IP) || undefined);
      const took = Date.now() - t0;
      assert.ok(took < 1000, `took ${took} ms`);
      assert.ok(mesh.log.some((l) => l.includes("+orders")), mesh.log.join("\n"));
      await deregister(consul.url, "orders", TOKEN);
      await until("orders.mesh is gone", 1000, async () => ((await r.resolve4("orders.mesh").catch((e: { code: string }) => e.code)) === "ENOTFOUND" ? true : undefined));
      const reads = consul.requests.filter((r) => r.path === "/v1/catalog/services");
      assert.ok(reads.length >= 3 && reads.every((r) => r.caller === "management"), "the token is sent");
      assert.ok(!mesh.log.join("\n").includes("s3cret"), "and never logged");
    });

    it("pipelines several queries on one TCP connection, answers a half-closed one, closes idle ones", async () => {
      const sock = connect(mesh.port, "127.0.0.1");
      await new Promise((r) => sock.once("connect", r));
      const reading = readFrames(sock, 3);
      sock.write(Buffer.concat([frame(query({ id: 1, name: "www.example.test" })), frame(query({ id: 2, name: "user" })), frame(query({ id: 3, name: "user", type: 28 }))]));
      const { frames } = await reading;
      const byId = new Map(frames.map((f) => [f.readUInt16BE(0), decode(f)]));
      assert.equal(byId.get(1)!.answers[0]!.address, "192.0.2.7");
      assert.equal(byId.get(2)!.answers[0]!.address, MESH_IP);
      assert.equal(byId.get(3)!.answers.length, 0);
      const t0 = Date.now();
      const closed = await new Promise<boolean>((r) => sock.once("close", () => r(true)));
      assert.ok(closed && Date.now() - t0 < 3000, "idle connection closed after tcpIdleMs");

      const half = connect(mesh.port, "127.0.0.1");
      const got = readFrames(half, 1);
      half.end(frame(query({ id: 9, name: "www.example.test" })));
      const r = await got;
      assert.equal(r.frames[0]!.readUInt16BE(0), 9);
    });

    it("a large upstream answer: TC over UDP, the full answer over TCP", async () => {
      const udp = await dig(mesh.port, ["big.example.test", "+bufsize=512", "+ignore"]);
      assert.ok(udp.flags.includes("tc"), udp.raw);
      const tcp = await dig(mesh.port, ["big.example.test", "+tcp"]);
      assert.equal(tcp.answers.length, 60);
      const retried = await dig(mesh.port, ["big.example.test", "+noedns"]);
      assert.equal(retried.answers.length, 60, "dig retries over TCP after TC");
    });

    it("garbage datagrams get FORMERR or nothing, and the next query is answered", async () => {
      const noQuestion = query({ id: 7, name: "user" }).subarray(0, 12);
      noQuestion.writeUInt16BE(0, 4);
      const hugeLabel = Buffer.concat([query({ id: 8, name: "x" }).subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from("0000010001", "hex")]);
      const garbage = [randomBytes(100), randomBytes(5), Buffer.alloc(0), noQuestion, hugeLabel, ...Array.from({ length: 50 }, () => randomBytes(12 + (Math.random() * 60) | 0))];
      const before = mesh.server.stats.formerr;
      const answers = await rawUdp(mesh.port, garbage);
      const formerr = answers.filter((a) => header(a).rcode === 1).map((a) => a.readUInt16BE(0));
      assert.ok(formerr.includes(7) && formerr.includes(8), `FORMERR for QDCOUNT=0 and the 64-byte label (${formerr})`);
      assert.ok(mesh.server.stats.formerr > before);
      const sock = connect(mesh.port, "127.0.0.1");
      sock.write(Buffer.from([0, 5, 1, 2, 3, 4, 5, 0, 0]));
      await new Promise((r) => sock.once("close", r));
      assert.deepEqual((await resolver(mesh.port).resolve4("user")), [MESH_IP]);
    });

    it("keeps serving the last zone while Consul is down, and catches up when it is back", async () => {
      const r = resolver(mesh.port);
      await consul.pause();
      await until("the watch notices", 5000, async () => (mesh.log.some((l) => l.startsWith("catalog: ")) ? true : undefined));
      assert.deepEqual(await r.resolve4("user.mesh"), [MESH_IP]);
      assert.deepEqual(await r.resolve4("cart"), [MESH_IP]);
      await new Promise((res) => setTimeout(res, 1500));
      assert.deepEqual(await r.resolve4("user.mesh"), [MESH_IP], "still served after retries failed");
      await consul.resume();
      await register(consul.url, "late", TOKEN);
      await until("the new name after Consul is back", 10_000, async () => ((await r.resolve4("late.mesh").catch((): string[] => [])).length > 0 ? true : undefined));
      assert.deepEqual(await r.resolve4("user.mesh"), [MESH_IP]);
      assert.ok(mesh.log.includes("catalog: reachable again"), mesh.log.join("\n"));
    });
  });

  describe(`amphi dns when upstreams fail or misbehave (udp ${udpIo})`, { skip }, () => {
    let consul: ConsulDouble;
    const cleanup: (() => Promise<void> | void)[] = [];

    before(async () => {
      consul = await startConsulDouble();
      await register(consul.url, "user");
    });
    after(async () => {
      for (const c of cleanup.reverse()) await c();
      await consul.close();
    });

    it("an upstream that never answers: SERVFAIL within the timeout (UDP and TCP), mesh names still answered", async () => {
      const hole = createSocket("udp4"); // receives queries, answers none
      await new Promise<void>((r) => hole.bind(0, "127.0.0.1", () => r()));
      cleanup.push(() => void hole.close());
      const mesh = await startMesh({ udpIo, upstreams: [local(hole.address().port)], catalogUrl: consul.url, timeoutMs: 600 });
      cleanup.push(mesh.stop);
      const t0 = Date.now();
      const r = await dig(mesh.port, ["www.example.test"], 4);
      const took = Date.now() - t0;
      assert.equal(r.status, "SERVFAIL", r.raw);
      assert.ok(took < 1500, `SERVFAIL after ${took} ms`);
      await assert.rejects(resolver(mesh.port).resolve4("www.example.test"), { code: "ESERVFAIL" });
      assert.equal((await dig(mesh.port, ["www.example.test", "+tcp"], 4)).status, "SERVFAIL", "TCP: connection refused");
      assert.deepEqual(await resolver(mesh.port).resolve4("user"), [MESH_IP]);
      assert.ok(mesh.server.stats.servfail >= 3);
    });

    it("no upstream at all: SERVFAIL at once", async () => {
      const mesh = await startMesh({ udpIo, upstreams: [], catalogUrl: consul.url });
      cleanup.push(mesh.stop);
      assert.equal((await dig(mesh.port, ["www.example.test"])).status, "SERVFAIL");
    });

    it("a second upstream takes over when the first does not answer", async () => {
      const hole = createSocket("udp4");
      await new Promise<void>((r) => hole.bind(0, "127.0.0.1", () => r()));
      cleanup.push(() => void hole.close());
      const good = await startDnsmasq(["--address=/example.test/192.0.2.9"]);
      cleanup.push(good.stop);
      const mesh = await startMesh({ udpIo, upstreams: [local(hole.address().port), local(good.port)], catalogUrl: consul.url, timeoutMs: 1000 });
      cleanup.push(mesh.stop);
      assert.deepEqual(await resolver(mesh.port).resolve4("a.example.test"), ["192.0.2.9"]);
      const t0 = Date.now();
      assert.deepEqual(await resolver(mesh.port).resolve4("b.example.test"), ["192.0.2.9"]);
      assert.ok(Date.now() - t0 < 450, "the dead upstream (500 ms per attempt) is no longer asked first");
    });

    it("an upstream answer bigger than the client's EDNS size is cut to header + question with TC=1", async () => {
      const rogue = createSocket("udp4"); // ignores the client's size: always 100 A records
      rogue.on("message", (q, rinfo) => {
        const qEnd = 12 + wireName("big.example.test").length + 4;
        const head = Buffer.from(q.subarray(0, qEnd));
        head[2] = 0x81;
        head[3] = 0x80;
        head.writeUInt16BE(100, 6);
        head.writeUInt16BE(0, 10);
        const rr = Buffer.from("c00c00010001000000050004c0000201", "hex");
        rogue.send(Buffer.concat([head, ...Array.from({ length: 100 }, () => rr)]), rinfo.port, rinfo.address);
      });
      await new Promise<void>((r) => rogue.bind(0, "127.0.0.1", () => r()));
      cleanup.push(() => void rogue.close());
      const mesh = await startMesh({ udpIo, upstreams: [local(rogue.address().port)], catalogUrl: consul.url });
      cleanup.push(mesh.stop);
      const r = await dig(mesh.port, ["big.example.test", "+bufsize=1232", "+ignore"]);
      assert.ok(r.flags.includes("tc"), r.raw);
      assert.deepEqual(r.answers, []);
      assert.equal(mesh.server.stats.truncated, 1);
    });

    it("listens on IPv6 loopback too", async () => {
      const mesh = await startMesh({ udpIo, upstreams: [], catalogUrl: consul.url, listen: ["::1"] });
      cleanup.push(mesh.stop);
      const r = await dig(mesh.port, ["user.mesh"], 2, "::1");
      assert.deepEqual(r.answers.map((a) => a[4]), [MESH_IP], r.raw);
    });
  });

  describe(`amphi dns when Consul answers blocking queries at once (udp ${udpIo})`, { skip }, () => {
    it("reads the catalog about once a second with little CPU, and still picks up a new service", async () => {
      // Its own double: the quirk must not reach other suites' watchers.
      const consul = await startConsulDouble();
      await register(consul.url, "user");
      const mesh = await startMesh({ udpIo, upstreams: [], catalogUrl: consul.url });
      try {
        await until("user.mesh resolves", 5000, async () => (await resolver(mesh.port).resolve4("user.mesh").catch((): string[] => [])).includes(MESH_IP) || undefined);
        consul.setQuirks({ blockingAnswersAtOnce: true });
        await register(consul.url, "cart"); // wakes the pending query; from now on every query answers at once
        await until("cart.mesh resolves", 5000, async () => (await resolver(mesh.port).resolve4("cart.mesh").catch((): string[] => [])).includes(MESH_IP) || undefined);
        const from = consul.requests.length;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 2000));
        const cpuMs = ((c) => (c.user + c.system) / 1000)(process.cpuUsage(cpu0));
        const wallMs = performance.now() - t0;
        const reads = consul.requests.slice(from).filter((r) => r.path === "/v1/catalog/services");
        assert.ok(reads.length <= Math.floor(wallMs / 1000) + 2, `${reads.length} catalog reads in ${Math.round(wallMs)} ms`);
        assert.ok(cpuMs < wallMs * 0.25, `CPU ${Math.round(cpuMs)} ms in ${Math.round(wallMs)} ms`);
        await register(consul.url, "orders");
        await until("orders.mesh resolves while answers come at once", 3000, async () => (await resolver(mesh.port).resolve4("orders.mesh").catch((): string[] => [])).includes(MESH_IP) || undefined);
      } finally {
        await mesh.stop();
        await consul.close();
      }
    });
  });
}
