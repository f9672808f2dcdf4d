// A small mesh in network namespaces for the Envoy tests (test/support/netns-hosts.ts): host0 is the calling
// host — amphi's capture rules applied with the real iptables-restore (src/hosts/capture.ts), the sidecar (the
// test double, or a real Envoy with AMPHI_TEST_ENVOY) as the proxy uid 1337, an app of its own on 8091 (inbound
// capture) and the test clients; host1 and host2 run app servers (HTTP on 8001 and 8002, TCP on 7001) answering
// `<host>:<port>` (and on 7002 a TCP server answering what it read once the client half-closed); the controller
// namespace holds the mesh service IP 10.255.0.1 with a plain server on 8888 (what an uncaptured connection to a
// non-mesh port of that IP reaches) and host0's DNS resolver (any A question: 192.0.2.99; /etc/netns/<host0>/). Every process started here dies with
// the test (setpriv --pdeathsig) and is killed by id in `close`.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnPiped } from "../../src/adapters/process/spawn.js";
import { applyCapture } from "../../src/hosts/capture.js";
import { hostCapture } from "../../src/runtimes/capture/render.js";
import type { MeshInstance, MeshSnapshot } from "../../src/mesh/index.js";
import { envoyBootstrapYaml } from "../../src/mesh/bootstrap.js";
import { fixtureEnvironment } from "../support/model-fixture.js";
import { testHostInstance } from "../support/host-instance.js";
import { fleetSupported, startFleet, TEST_USER, type TestFleet } from "../support/netns-hosts.js";
import { netnsSession } from "../support/netns-session.js";
import { spawnSync } from "../support/spawn.js";
import { startEnvoy, type RunningEnvoy } from "../support/envoy.js";

export const MESH_IP = "10.255.0.1";
export const PROXY_UID = 1337;
export const SETTINGS = { domain: "mesh", outboundPort: 15001, inboundPort: 15006 };
export const ADMIN_PORT = 15000;

const support = fleetSupported();
/** The `skip` of a suite that needs netns hosts (in CI they must run: fail, don't skip). */
export const skipNoNetns: string | false = support.ok ? false : process.env["CI"] === "true" ? false : `netns test hosts unavailable: ${support.reason}`;

const SBIN_PATH = `${process.env["PATH"] ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;

/** `node app.mjs <json>`: HTTP servers answering `<name>` (status by mode: ok, fail = 503, slow:<ms>; `POST
 * /__mode` with the mode as body switches it; `/__conn` answers `<name> from port <the caller's port>`) and TCP servers writing `<name>\n`. Prints `ready`. */
const APP = String.raw`
import http from "node:http";
import net from "node:net";
import dgram from "node:dgram";
const cfg = JSON.parse(process.argv[2]);
let pending = cfg.servers.length;
const ready = () => { if (--pending === 0) process.stdout.write("ready\n"); };
for (const s of cfg.servers) {
  const name = cfg.host + ":" + s.port;
  if (s.kind === "tcp") {
    net.createServer((c) => { c.on("error", () => {}); c.end(name + "\n"); }).listen({ host: "0.0.0.0", port: s.port }, ready);
    continue;
  }
  if (s.kind === "dns") {
    // Any A question: 192.0.2.99 (TTL 60).
    const udp = dgram.createSocket("udp4");
    udp.on("message", (q, r) => {
      let i = 12; while (q[i] !== 0) i += q[i] + 1;
      const head = Buffer.from(q.subarray(0, 12)); head.writeUInt16BE(0x8180, 2); head.writeUInt16BE(1, 6); head.writeUInt32BE(0, 8);
      const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99]);
      udp.send(Buffer.concat([head, q.subarray(12, i + 5), rr]), r.port, r.address);
    });
    udp.bind({ address: s.host, port: s.port }, ready);
    continue;
  }
  if (s.kind === "tcp-echo") {
    // Reads until the client half-closes, then answers what it got.
    net.createServer({ allowHalfOpen: true }, (c) => {
      let d = ""; c.on("error", () => {}); c.on("data", (x) => (d += x)); c.on("end", () => c.end(name + " got " + d + "\n"));
    }).listen({ host: "0.0.0.0", port: s.port }, ready);
    continue;
  }
  let mode = "ok";
  http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      if (req.url === "/__mode") { mode = body.trim(); res.end("mode " + mode + "\n"); return; }
      if (req.url === "/__conn") { res.end(name + " from port " + req.socket.remotePort + "\n"); return; }
      const answer = (status) => { res.writeHead(status, { "content-type": "text/plain", "x-served-by": name }); res.end(name + (status === 200 ? "" : " failed") + "\n"); };
      if (mode === "fail") return answer(503);
      if (mode.startsWith("slow:")) return void setTimeout(() => answer(200), Number(mode.slice(5)));
      answer(200);
    });
  }).listen({ host: "0.0.0.0", port: s.port }, ready);
}
`;

/** `node client.mjs <json>`: n HTTP requests (`concurrency` at a time) to ip:port with a Host header, or n TCP
 * connects reading one line; prints {"by":{"<first line of the answer>":n},"status":{"<code>":n}}. With `pauseMs`,
 * each HTTP request waits that long after the one before, and the counts gain "reused": the requests sent on a
 * kept-alive connection. */
const CLIENT = String.raw`
import http from "node:http";
import net from "node:net";
const cfg = JSON.parse(process.argv[2]);
const by = {}; const status = {}; let reused = 0;
const add = (m, k) => { m[k] = (m[k] ?? 0) + 1; };
const agent = new http.Agent({ keepAlive: cfg.keepAlive ?? false });
function one() {
  return new Promise((resolve) => {
    if (cfg.tcp) {
      const s = net.connect({ host: cfg.ip, port: cfg.port, allowHalfOpen: true });
      if (cfg.send !== undefined) s.on("connect", () => s.end(cfg.send));
      s.on("end", () => s.end());
      let d = ""; s.setTimeout(5000, () => { add(status, "timeout"); s.destroy(); resolve(); });
      s.on("data", (x) => (d += x)); s.on("error", (e) => { add(status, e.code); resolve(); });
      s.on("close", () => { if (d) { add(by, d.split("\n")[0]); add(status, "ok"); } else if (!s.errored) add(status, "empty"); resolve(); });
      return;
    }
    const r = http.request({ host: cfg.ip, port: cfg.port, path: cfg.path ?? "/", method: cfg.method ?? "GET", headers: { host: cfg.host }, agent, timeout: 10000 }, (res) => {
      let d = ""; res.on("data", (x) => (d += x));
      res.on("end", () => { add(status, String(res.statusCode)); add(by, d.split("\n")[0]); if (r.reusedSocket) reused++; resolve(); });
    });
    r.on("timeout", () => r.destroy(new Error("timeout")));
    r.on("error", (e) => { add(status, e.code ?? e.message); resolve(); });
    r.end(cfg.body ?? "");
  });
}
let grpcClient = null;
if (cfg.grpc) {
  const { createRequire } = await import("node:module");
  const grpc = createRequire(import.meta.url)(cfg.grpcJs);
  grpcClient = { grpc, client: new grpc.Client(cfg.ip + ":" + cfg.port, grpc.credentials.createInsecure(), { "grpc.default_authority": cfg.host, "grpc.enable_retries": 0 }) };
}
function oneGrpc() {
  const id = (b) => b;
  return new Promise((resolve) => grpcClient.client.makeUnaryRequest(cfg.grpc, id, id, Buffer.alloc(0), { deadline: Date.now() + 10000 }, (err, res) => {
    if (err) add(status, "grpc-" + err.code); else { add(status, "grpc-0"); add(by, res.toString()); }
    resolve();
  }));
}
let left = cfg.n;
if (cfg.grpc) { while (left-- > 0) await oneGrpc(); process.stdout.write(JSON.stringify({ by, status }) + "\n"); process.exit(0); }
const pause = () => new Promise((r) => setTimeout(r, cfg.pauseMs));
await Promise.all(Array.from({ length: cfg.concurrency ?? 1 }, async () => { for (let first = true; left-- > 0; first = false) { if (cfg.pauseMs && !first) await pause(); await one(); } }));
process.stdout.write(JSON.stringify(cfg.pauseMs ? { by, status, reused } : { by, status }) + "\n");
process.exit(0);
`;

/** Counts from a client run. */
export interface Counts {
  by: Record<string, number>;
  status: Record<string, number>;
  /** With `pauseMs`: how many requests went on a kept-alive connection. */
  reused?: number;
}

/** The test world (see the top of this file). */
export interface World {
  fleet: TestFleet;
  /** host1's and host2's addresses. */
  h1: string;
  h2: string;
  /** Runs the client on host0 (as the test user: captured like any app). */
  client(cfg: { ip?: string; port: number; host?: string; n?: number; concurrency?: number; tcp?: boolean; path?: string; method?: string; body?: string; keepAlive?: boolean; pauseMs?: number; grpc?: string; grpcJs?: string; send?: string }): Promise<Counts>;
  /** Runs the client on host `i` (1 or 2). */
  clientOn(i: number, cfg: { ip: string; port: number; host?: string; n?: number; tcp?: boolean }): Promise<Counts>;
  /** Sets the mode of host i's HTTP server on `port` (ok, fail, slow:<ms>). */
  mode(i: number, port: number, mode: string): Promise<void>;
  /** Starts the sidecar on host0 with a bootstrap pointing at `xds` (host:port reachable from the host). */
  startSidecar(xds: { host: string; port: number }, nodeId?: string): Promise<RunningEnvoy>;
  /** A runnable command prefix for host i (namespace, pdeathsig, uid). */
  inHost(i: number, uid?: number): string[];
  /** The unprivileged test user the apps and clients run as (captured like any app). */
  user: { uid: number; gid: number };
  close(): Promise<void>;
}

/** An instance of a snapshot on host i's `port` (the address of host i). */
export function on(world: World, i: 1 | 2, port: number, more: Partial<MeshInstance> = {}): MeshInstance {
  const address = i === 1 ? world.h1 : world.h2;
  return { id: `h${i}-${port}`, address, port, version: null, locality: "vms", passing: true, ...more };
}

/** A snapshot with the world's mesh settings. */
export function snapshot(services: MeshSnapshot["services"]): MeshSnapshot {
  return { env: "prod", settings: SETTINGS, services };
}

/** Starts the world: fleet, routes, servers, capture rules on host0. */
export async function startWorld(): Promise<World> {
  if (!support.ok) assert.fail(`CI=true but netns test hosts are unavailable: ${support.reason}`);
  const fleet = await startFleet({ count: 3, prefix: "envoy" });
  const children: ChildProcess[] = [];
  try {
    const pw = spawnSync("getent", ["passwd", TEST_USER], { encoding: "utf8" }).stdout.split(":");
    const user = { uid: Number(pw[2]), gid: Number(pw[3]) };
    const appScript = join(fleet.tmpDir, "app.mjs");
    const clientScript = join(fleet.tmpDir, "client.mjs");
    writeFileSync(appScript, APP, { mode: 0o644 });
    writeFileSync(clientScript, CLIENT, { mode: 0o644 });
    const inHost = (i: number, uid?: number) => ["ip", "netns", "exec", fleet.hosts[i]!.netns, "setpriv", "--pdeathsig", "KILL", ...(uid === undefined ? [] : ["--reuid", String(uid), "--regid", String(uid === user.uid ? user.gid : uid), "--clear-groups"]), "--"];
    const inCtl = ["ip", "netns", "exec", fleet.controllerNetns, "setpriv", "--pdeathsig", "KILL", "--"];
    for (const i of [0, 1, 2]) must(await fleet.execOnHost(i, ["ip", "route", "add", "default", "via", fleet.controllerAddress]));
    must(await fleet.execInController(["ip", "addr", "add", `${MESH_IP}/32`, "dev", "lo"]));
    const servers = (host: string) => ({ host, servers: [{ kind: "http", port: 8001 }, { kind: "http", port: 8002 }, { kind: "tcp", port: 7001 }, { kind: "tcp-echo", port: 7002 }] });
    await Promise.all([
      startReady(children, [...inHost(1, user.uid), process.execPath, appScript, JSON.stringify(servers("h1"))]),
      startReady(children, [...inHost(2, user.uid), process.execPath, appScript, JSON.stringify(servers("h2"))]),
      startReady(children, [...inHost(0, user.uid), process.execPath, appScript, JSON.stringify({ host: "h0", servers: [{ kind: "http", port: 8091 }] })]),
      startReady(children, [...inCtl, process.execPath, appScript, JSON.stringify({ host: "outside", servers: [{ kind: "tcp", port: 8888 }, { kind: "dns", host: fleet.controllerAddress, port: 53 }] })]),
    ]);
    const h0 = fleet.hosts[0]!;
    // host0's resolver (what `ip netns exec` shows a process there as /etc/resolv.conf): the controller's DNS.
    mkdirSync(`/etc/netns/${h0.netns}`, { recursive: true });
    writeFileSync(`/etc/netns/${h0.netns}/resolv.conf`, `nameserver ${fleet.controllerAddress}\n`);
    const env = fixtureEnvironment();
    assert.deepEqual([env.mesh.serviceIP, env.mesh.proxyUid, env.mesh.outboundPort, env.mesh.inboundPort], [MESH_IP, PROXY_UID, SETTINGS.outboundPort, SETTINGS.inboundPort]);
    const rules = hostCapture(env, "test", h0.name, [testHostInstance("web", [8091], h0.name, h0.address, h0.baseDir)]);
    const applied = await applyCapture({ session: netnsSession(fleet, 0), env: "prod", now: () => new Date().toISOString(), log: () => {} }, rules);
    assert.equal(applied.result, "changed", applied.message);
    const runClient = async (i: number, cfg: object) => {
      const r = await run([...inHost(i, user.uid), process.execPath, clientScript, JSON.stringify({ ip: MESH_IP, n: 1, ...cfg })]);
      if (r.code !== 0) throw new Error(`client on host${i} failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as Counts;
    };
    const sidecars: RunningEnvoy[] = [];
    return {
      fleet,
      h1: fleet.hosts[1]!.address,
      h2: fleet.hosts[2]!.address,
      inHost,
      user,
      client: (cfg) => runClient(0, cfg),
      clientOn: (i, cfg) => runClient(i, cfg),
      mode: async (i, port, mode) => {
        const r = await run([...inHost(i), "curl", "-sS", "--max-time", "5", "-d", mode, `http://${fleet.hosts[i]!.address}:${port}/__mode`]);
        assert.equal(r.code, 0, r.stderr);
      },
      startSidecar: async (xds, nodeId = "sidecar~prod~web~web-h0") => {
        const bootstrap = envoyBootstrapYaml({ nodeId, nodeCluster: "web", metadata: { runtime: "vm" }, controlPlane: xds, adminPort: ADMIN_PORT });
        const envoy = startEnvoy({ bootstrap, netns: h0.netns, uid: PROXY_UID, args: ["--drain-time-s", "1"] });
        sidecars.push(envoy);
        // Generous: the machine may be busy (a double starts in ~3 s when it is not).
        await envoy.waitReady(90_000);
        return envoy;
      },
      close: async () => {
        await Promise.all(sidecars.map((s) => s.stop("SIGKILL")));
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
        rmSync(`/etc/netns/${h0.netns}`, { recursive: true, force: true });
        await fleet.cleanup();
      },
    };
  } catch (err) {
    for (const c of children) c.kill("SIGKILL");
    rmSync(`/etc/netns/${fleet.hosts[0]!.netns}`, { recursive: true, force: true });
    await fleet.cleanup();
    throw err;
  }
}

function must(r: { code: number; stderr: string }): void {
  assert.equal(r.code, 0, r.stderr);
}

/** Runs a command to its end (no shell). */
export function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnPiped(argv[0]!, argv.slice(1), { env: { ...process.env, PATH: SBIN_PATH, LC_ALL: "C" } });
    child.stdin.end();
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Starts a long-running process and resolves once it printed `ready`. */
function startReady(children: ChildProcess[], argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, PATH: SBIN_PATH }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${argv.join(" ")}: not ready after 60 s: ${err}`)), 60_000);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("ready\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(" ")} exited ${code}: ${err}`));
    });
  });
}
