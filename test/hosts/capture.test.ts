// Host capture rules (src/hosts/capture.ts) with real iptables, inside a test fleet host's network
// namespace, checked with real connections and real DNS queries.
//
// Inside host0 run stand-ins, small node servers that answer every connection with their own name
// (so the test can tell which listener got it): the outbound sidecar (15001) and the inbound sidecar
// (15006) and mesh-dns (127.0.0.1:15053, UDP+TCP) as the proxy uid 1337, the apps on 8091 and 9100 and a
// plain server on 7000 as the unprivileged test user. The controller namespace (the bridge) plays the rest
// of the network: an upstream DNS resolver on its address, port 53, and a real server on the mesh service
// IP 10.255.0.1, port 80 (which only uncaptured traffic can reach). The test process itself runs a server
// in the root namespace.
//
// The host gets a default route via the controller, as a real VM has one: nat OUTPUT runs after the
// routing decision, so without a route to 10.255.0.1 (or to the DNS server a client names) connect() and
// sendto() fail with ENETUNREACH before the capture rules ever see the packet.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { applyCapture, probeCapture, removeCapture, type CaptureContext } from "../../src/hosts/capture.js";
import { normalizeRule, tokenizeRule } from "../../src/diff/iptables.js";
import { TaskError } from "../../src/hosts/errors.js";
import type { CaptureRules, HostInstance, HostStateFile } from "../../src/model/index.js";
import type { HostSession } from "../../src/ports/hosts.js";
import { hostCapture } from "../../src/runtimes/capture/render.js";
import { fixtureEnvironment } from "../support/model-fixture.js";
import { testHostInstance } from "../support/host-instance.js";
import { fleetSupported, startFleet, TEST_USER, type TestFleet } from "../support/netns-hosts.js";
import { netnsSession } from "../support/netns-session.js";
import { spawnSync } from "../support/spawn.js";

const support = fleetSupported();
// In CI (root, packages from scripts/install-test-deps.sh) these tests must run: fail, don't skip.
const skip = support.ok ? false : process.env.CI === "true" ? false : `netns test hosts unavailable: ${support.reason}`;

function requireSupport(): void {
  if (!support.ok) assert.fail(`CI=true but netns test hosts are unavailable: ${support.reason}`);
}

const SBIN_PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;
const childEnv = { ...process.env, PATH: SBIN_PATH, LC_ALL: "C" };

const SERVICE_IP = "10.255.0.1";
const PROXY_UID = 1337;
/** What mesh-dns answers for names it owns; the upstream answers UPSTREAM_ANSWER. */
const MESH_ANSWER = "192.0.2.53";
const UPSTREAM_ANSWER = "192.0.2.1";

// ---------------------------------------------------------------------------------------------
// Stand-ins (written to the fleet's temp dir; every uid can read it)

/** `node standin.mjs <json>`: a TCP server answering `<name> uid=<uid> local=<addr>:<port>`, or a DNS
 * server (UDP+TCP) answering A <answer>, forwarding names under `fwd.test` to an upstream over UDP from
 * the port named by a `p<port>.` label (else a random one). Logs `ready`, each connection and query. */
const STANDIN = String.raw`
import net from "node:net";
import dgram from "node:dgram";
const cfg = JSON.parse(process.argv[2]);
const uid = process.getuid();
const log = (s) => process.stdout.write(s + "\n");
let pending = cfg.kind === "tcp" ? 1 : 2;
const ready = () => { if (--pending === 0) log("ready"); };
if (cfg.kind === "tcp") {
  net.createServer((s) => {
    log("conn " + s.remoteAddress + ":" + s.remotePort);
    s.on("error", () => {});
    s.end(cfg.name + " uid=" + uid + " local=" + s.localAddress + ":" + s.localPort + "\n");
  }).listen({ host: cfg.host, port: cfg.port }, ready);
} else {
  const question = (q) => {
    const labels = []; let i = 12;
    while (i < q.length && q[i] !== 0) { labels.push(q.subarray(i + 1, i + 1 + q[i]).toString()); i += q[i] + 1; }
    return { name: labels.join("."), end: i + 5 };
  };
  const answer = (q) => {
    const { end } = question(q);
    const head = Buffer.from(q.subarray(0, 12));
    head.writeUInt16BE(0x8180, 2); head.writeUInt16BE(1, 4); head.writeUInt16BE(1, 6); head.writeUInt16BE(0, 8); head.writeUInt16BE(0, 10);
    const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, ...cfg.answer.split(".").map(Number)]);
    return Buffer.concat([head, q.subarray(12, end), rr]);
  };
  const forward = (q, name) => new Promise((resolve) => {
    const m = /(?:^|\.)p(\d+)\./.exec(name);
    const sock = dgram.createSocket("udp4");
    const timer = setTimeout(() => { log("forward timeout " + name); sock.close(); resolve(null); }, 1500);
    sock.on("message", (r) => { clearTimeout(timer); sock.close(); resolve(r); });
    sock.on("error", (e) => { log("forward error " + name + " " + e.code); clearTimeout(timer); resolve(null); });
    sock.bind(m ? Number(m[1]) : 0, () => {
      log("forward " + name + " from :" + sock.address().port);
      sock.send(q, cfg.upstream.port, cfg.upstream.host);
    });
  });
  const handle = (q, proto, from) => {
    const { name } = question(q);
    log("query " + proto + " " + name + " from " + from);
    return cfg.upstream && name.endsWith("fwd.test") ? forward(q, name) : Promise.resolve(answer(q));
  };
  const udp = dgram.createSocket("udp4");
  udp.on("message", async (q, r) => { const a = await handle(q, "udp", r.address + ":" + r.port); if (a) udp.send(a, r.port, r.address); });
  udp.bind({ address: cfg.host, port: cfg.port }, ready);
  net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on("error", () => {});
    s.on("data", async (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + q.length);
        const a = await handle(q, "tcp", s.remoteAddress + ":" + s.remotePort);
        if (a) { const l = Buffer.alloc(2); l.writeUInt16BE(a.length); s.write(Buffer.concat([l, a])); }
      }
    });
  }).listen({ host: cfg.host, port: cfg.port }, ready);
}
`;

/** `node client.mjs <host> <port>`: prints the first line the server sends, or `ERR <code>`. */
const CLIENT = String.raw`
import net from "node:net";
const [host, port] = process.argv.slice(2);
const s = net.connect({ host, port: Number(port) });
let data = "";
s.setTimeout(1500, () => { process.stdout.write("ERR timeout\n"); process.exit(0); });
s.on("data", (d) => { data += d; });
s.on("end", () => { process.stdout.write(data.split("\n")[0] + "\n"); process.exit(0); });
s.on("error", (e) => { process.stdout.write("ERR " + e.code + "\n"); process.exit(0); });
`;

/** Runs a command in the root namespace (no shell); never rejects on a non-zero exit. */
function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

interface Standin {
  name: string;
  child: ChildProcess;
  lines: string[];
}

const standins: Standin[] = [];

/** Starts a stand-in with `prefix` (namespace entry, uid change) and resolves once it listens. */
function startStandin(name: string, prefix: string[], script: string, cfg: object): Promise<Standin> {
  return new Promise((resolve, reject) => {
    const [bin, ...args] = [...prefix, process.execPath, script, JSON.stringify(cfg)];
    const child = spawn(bin!, args, { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    const s: Standin = { name, child, lines: [] };
    standins.push(s);
    let buf = "";
    let err = "";
    // Only a guard against a hang: a stand-in that fails exits, and the exit handler below rejects with its
    // stderr. Starting node took over 5 s at load 11, so the guard is as long as the other suites' (60 s).
    const timer = setTimeout(() => reject(new Error(`stand-in ${name} not ready after 60 s: ${err}`)), 60_000);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        s.lines.push(line);
        if (line === "ready") {
          clearTimeout(timer);
          resolve(s);
        }
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`stand-in ${name} exited ${code}: ${err}`));
    });
  });
}

function stopAll(): void {
  for (const s of standins) {
    if (s.child.pid !== undefined && s.child.exitCode === null && s.child.signalCode === null) {
      try {
        process.kill(s.child.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rules

/** The rules amphi rendered before the conntrack-zone fix: mesh-dns's upstream flows in zone 1, set by a
 * raw PREROUTING rule that also catches replies to DNS the host forwards (see src/runtimes/capture/render.ts). */
function oldRules(current: CaptureRules): CaptureRules {
  const nat = current.fragment.slice(0, current.fragment.indexOf("*raw"));
  const raw = [
    "*raw",
    ":AMPHI_RAW_PREROUTING - [0:0]",
    ":AMPHI_RAW_OUTPUT - [0:0]",
    "-A AMPHI_RAW_PREROUTING -p udp --sport 53 -j CT --zone 1",
    "-A AMPHI_RAW_OUTPUT -p udp --dport 53 -m owner --uid-owner 1337 -j CT --zone 1",
    "-A AMPHI_RAW_OUTPUT -p udp --sport 15053 -m owner --uid-owner 1337 -j CT --zone 2",
    "-A AMPHI_RAW_OUTPUT -p udp --dport 53 -m owner ! --uid-owner 1337 -j CT --zone 2",
    "COMMIT",
    "",
  ].join("\n");
  return {
    ...current,
    fragment: nat + raw,
    hooks: [
      { table: "nat", chain: "PREROUTING", rule: "-p tcp -j AMPHI_PREROUTING" },
      { table: "nat", chain: "OUTPUT", rule: "-j AMPHI_OUTPUT" },
      { table: "raw", chain: "PREROUTING", rule: "-j AMPHI_RAW_PREROUTING" },
      { table: "raw", chain: "OUTPUT", rule: "-j AMPHI_RAW_OUTPUT" },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Unit tests of the rule normalisation (no fleet needed)

describe("capture rule normalisation", () => {
  it("treats a rendered rule and iptables-save's form of it as equal", () => {
    const pairs: [string, string][] = [
      [
        `-p tcp --dport 9100 -m comment --comment "amphi:billing" -j AMPHI_IN_REDIRECT`,
        `-p tcp -m tcp --dport 9100 -m comment --comment "amphi:billing" -j AMPHI_IN_REDIRECT`,
      ],
      ["-p udp --dport 53 -j REDIRECT --to-ports 15053", "-p udp -m udp --dport 53 -j REDIRECT --to-ports 15053"],
      ["-p tcp -d 10.255.0.1 -j AMPHI_OUT_REDIRECT", "-d 10.255.0.1/32 -p tcp -j AMPHI_OUT_REDIRECT"],
      [
        "-p udp --dport 53 -m owner ! --uid-owner 1337 -j CT --zone 2",
        "-p udp -m udp --dport 53 -m owner ! --uid-owner 1337 -j CT --zone 2",
      ],
      ["--protocol tcp --jump AMPHI_X", "-p tcp --jump AMPHI_X"],
    ];
    for (const [rendered, saved] of pairs) assert.equal(normalizeRule(rendered), normalizeRule(saved), rendered);
  });

  it("keeps what matters apart", () => {
    assert.notEqual(normalizeRule("-p tcp --dport 8091 -j X"), normalizeRule("-p tcp --dport 8092 -j X"));
    assert.notEqual(normalizeRule("-m owner --uid-owner 1337 -j RETURN"), normalizeRule("-m owner ! --uid-owner 1337 -j RETURN"));
    assert.notEqual(normalizeRule("-p udp -m tcp --dport 53 -j X"), normalizeRule("-p udp --dport 53 -j X"));
    assert.notEqual(normalizeRule("-j AMPHI_OUTPUT"), normalizeRule("-p tcp -j AMPHI_OUTPUT"));
  });

  it("reads quoted tokens as iptables-save writes them", () => {
    assert.deepEqual(tokenizeRule(`-m comment --comment "a \\"b\\" c" -j X`), ["-m", "comment", "--comment", 'a "b" c', "-j", "X"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Against a scripted session: error messages, sudo, old iptables, iptables-legacy-save's output

/** A session that answers the capture and state-file scripts with canned results, recording every argv. */
function fakeSession(answers: { inspect: { code: number; stdout?: string; stderr?: string }; apply?: { code: number; stderr?: string } }) {
  const calls: { argv: string[]; stdin?: string }[] = [];
  let state = "";
  const session: HostSession = {
    host: { group: "legacy", host: "vm-1", address: "10.20.0.11", transport: "ssh", ssh: { user: "deploy", port: 22, identityFile: null, knownHostsFile: null, proxyJump: null }, baseDir: "/opt/amphi" },
    exec: async (argv, opts) => {
      calls.push({ argv, stdin: opts?.stdin?.toString() });
      const script = argv[2] ?? "";
      if (script.includes("iptables-save -t")) return { stdout: "", stderr: "", ...answers.inspect };
      if (script.includes("iptables-restore --noflush")) return { stdout: "", stderr: "", ...(answers.apply ?? { code: 0 }) };
      if (script.includes("umask 077")) {
        state = opts?.stdin?.toString() ?? "";
        return { code: 0, stdout: "", stderr: "" };
      }
      // the state file's read: state.json as STATE_DUMP_SH frames it
      return { code: 0, stdout: state ? `--amphi-state-- state.json present\n${state}` : "", stderr: "" };
    },
    putFile: async () => {},
    close: async () => {},
  };
  return { session, calls };
}

function fixtureRules(): CaptureRules {
  return hostCapture(fixtureEnvironment(), "legacy", "vm-1", [testHostInstance("web", [8091], "vm-1", "10.20.0.11", "/opt/amphi")]);
}

/** What iptables-legacy-save (1.8.9) prints for fixtureRules() applied with its hooks. */
const LEGACY_SAVE = `mode root
version iptables-restore v1.8.9
#amphi-table nat
# Generated by iptables-save v1.8.9 on Sat Nov 28 12:15:46 2026
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:AMPHI_IN_REDIRECT - [0:0]
:AMPHI_OUTPUT - [0:0]
:AMPHI_OUT_REDIRECT - [0:0]
:AMPHI_PREROUTING - [0:0]
-A PREROUTING -p tcp -j AMPHI_PREROUTING
-A OUTPUT -j AMPHI_OUTPUT
-A AMPHI_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A AMPHI_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A AMPHI_OUTPUT -p udp -m udp --dport 53 -j REDIRECT --to-ports 15053
-A AMPHI_OUTPUT -p tcp -m tcp --dport 53 -j REDIRECT --to-ports 15053
-A AMPHI_OUTPUT -d 127.0.0.0/8 -j RETURN
-A AMPHI_OUTPUT -p tcp -m tcp --dport 8091 -m addrtype --dst-type LOCAL -m comment --comment "amphi:web" -j AMPHI_IN_REDIRECT
-A AMPHI_OUTPUT -d 10.255.0.1/32 -p tcp -j AMPHI_OUT_REDIRECT
-A AMPHI_OUT_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A AMPHI_PREROUTING -p tcp -m tcp --dport 8091 -m comment --comment "amphi:web" -j AMPHI_IN_REDIRECT
COMMIT
# Completed on Sat Nov 28 12:15:46 2026
#amphi-table raw
# Generated by iptables-save v1.8.9 on Sat Nov 28 12:15:46 2026
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:AMPHI_RAW_OUTPUT - [0:0]
-A OUTPUT -j AMPHI_RAW_OUTPUT
-A AMPHI_RAW_OUTPUT -p udp -m udp --sport 15053 -m owner --uid-owner 1337 -j CT --zone 2
-A AMPHI_RAW_OUTPUT -p udp -m udp --dport 53 -m owner ! --uid-owner 1337 -j CT --zone 2
COMMIT
# Completed on Sat Nov 28 12:15:46 2026
`;

const EMPTY_SAVE = (mode: string, version = "iptables-restore v1.8.9 (nf_tables)") =>
  `mode ${mode}\nversion ${version}\n#amphi-table nat\n*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n#amphi-table raw\n*raw\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n`;

describe("capture against a scripted session", () => {
  const ctxFor = (session: HostSession): CaptureContext => ({ session, env: "prod", now: () => "2026-01-01T00:00:00Z", log: () => {} });

  it("reads iptables-legacy-save's output of the rules as equal to them", async () => {
    const { session, calls } = fakeSession({ inspect: { code: 0, stdout: LEGACY_SAVE } });
    assert.equal(await probeCapture(session, fixtureRules()), "present");
    const first = await applyCapture(ctxFor(session), fixtureRules());
    assert.equal(first.result, "changed", "not yet recorded in state.json");
    assert.equal((await applyCapture(ctxFor(session), fixtureRules())).result, "unchanged");
    assert.ok(!calls.some((c) => (c.argv[2] ?? "").includes("iptables-restore --noflush")), "nothing restored");
  });

  it("passes values only as arguments and stdin: the scripts' text is the same for any rules", async () => {
    const scripts = new Set<string>();
    for (const ports of [[8091], [9100, 9200]]) {
      const { session, calls } = fakeSession({ inspect: { code: 0, stdout: EMPTY_SAVE("root") } });
      const rules = hostCapture(fixtureEnvironment(), "legacy", "vm-1", [testHostInstance("web", ports, "vm-1", "10.20.0.11", "/opt/amphi")]);
      await applyCapture(ctxFor(session), rules);
      for (const c of calls) {
        assert.equal(c.argv[0], "sh");
        assert.equal(c.argv[1], "-c");
        assert.doesNotMatch(c.argv[2]!, /AMPHI_|15001|9100|8091/);
        scripts.add(c.argv[2]!);
      }
      const apply = calls.find((c) => c.argv[2]!.includes("iptables-restore --noflush"))!;
      assert.equal(apply.stdin, rules.fragment, "the fragment goes on stdin");
      assert.deepEqual(apply.argv.slice(3, 6), ["amphi", "root", "--wait"]);
      assert.deepEqual(apply.argv.slice(6), ["nat\tPREROUTING\t-p\ttcp\t-j\tAMPHI_PREROUTING", "nat\tOUTPUT\t-j\tAMPHI_OUTPUT", "raw\tOUTPUT\t-j\tAMPHI_RAW_OUTPUT"]);
    }
    assert.equal(scripts.size, 4, "the same four scripts both times: inspect, apply, state.json read and write");
  });

  it("uses sudo -n when the session is not root, and no --wait with an iptables-restore older than 1.6.2", async () => {
    const { session, calls } = fakeSession({ inspect: { code: 0, stdout: EMPTY_SAVE("sudo", "iptables-restore v1.4.21") } });
    await applyCapture(ctxFor(session), fixtureRules());
    const apply = calls.find((c) => c.argv[2]!.includes("iptables-restore --noflush"))!;
    assert.deepEqual(apply.argv.slice(3, 6), ["amphi", "sudo", ""]);
  });

  it("names the host and the cause of each failure", async () => {
    const cases: [Parameters<typeof fakeSession>[0], string][] = [
      [{ inspect: { code: 20, stderr: "iptables-restore\n" } }, "vm-1: capture: iptables-restore not found on vm-1 (install iptables)"],
      [{ inspect: { code: 21 } }, "vm-1: capture needs root on vm-1: connect as root or allow sudo -n iptables-restore (and iptables, iptables-save)"],
      [{ inspect: { code: 22, stderr: "iptables-save v1.8.9 (nf_tables): table 'raw' is incompatible\n" } }, "vm-1: capture: iptables-save failed: iptables-save v1.8.9 (nf_tables): table 'raw' is incompatible"],
      [
        {
          inspect: { code: 0, stdout: EMPTY_SAVE("root") },
          apply: { code: 10, stderr: "iptables-restore v1.8.9 (nf_tables): Chain 'AMPHI_X' does not exist\nError occurred at line: 12\nTry `iptables-restore -h' for more information.\n" },
        },
        "vm-1: capture: iptables-restore failed: iptables-restore v1.8.9 (nf_tables): Chain 'AMPHI_X' does not exist (input line 12)",
      ],
      [{ inspect: { code: 0, stdout: EMPTY_SAVE("root") }, apply: { code: 11, stderr: "iptables: No chain/target/match by that name.\n" } }, "vm-1: capture: inserting a hook failed: iptables: No chain/target/match by that name."],
    ];
    for (const [answers, message] of cases) {
      const { session } = fakeSession(answers);
      await assert.rejects(applyCapture(ctxFor(session), fixtureRules()), (e: unknown) => {
        assert.ok(e instanceof TaskError);
        assert.equal(e.message, message);
        return true;
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Real iptables

describe("host capture rules in a netns host (real iptables, connections, DNS)", { skip }, () => {
  let fleet: TestFleet;
  let root: HostSession; // root in host0's network namespace
  let asApp: HostSession; // the unprivileged test user (the apps' uid)
  let asProxy: HostSession; // uid 1337
  let rules: CaptureRules;
  let rootServer: Server;
  let rootPort = 0;
  let meshDns: Standin;
  let upstream: Standin;
  let appUid = 0;
  let container: ChildProcess | undefined;
  const logs: string[] = [];
  let t0 = 0;

  const ctx = (): CaptureContext => ({ session: root, env: "prod", now: () => new Date().toISOString(), log: (l) => logs.push(l) });
  const host = () => fleet.hosts[0]!;
  const must = async (s: HostSession, argv: string[]) => {
    const r = await s.exec(argv);
    assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const save = async () => must(root, ["sh", "-c", "iptables-save -t nat; iptables-save -t raw"]);
  const stateFile = (): HostStateFile => JSON.parse(readFileSync(join(host().baseDir, "state.json"), "utf8")) as HostStateFile;
  /** A TCP connection from inside host0 as `s`'s uid: the first line the server sent, or `ERR <code>`. */
  const dial = async (s: HostSession, addr: string, port: number) => (await must(s, [process.execPath, join(fleet.tmpDir, "client.mjs"), addr, String(port)])).trim();
  /** A TCP connection from the root namespace (outside the host). */
  const dialFromOutside = (addr: string, port: number): Promise<string> =>
    new Promise((resolve) => {
      const sock = connect({ host: addr, port });
      let data = "";
      sock.setTimeout(1500, () => {
        sock.destroy();
        resolve(data ? data.split(/\r?\n/)[0]! : "ERR timeout");
      });
      sock.on("data", (d) => {
        data += d.toString("utf8");
        if (data.includes("\n")) {
          sock.destroy();
          resolve(data.split(/\r?\n/)[0]!);
        }
      });
      sock.on("end", () => resolve(data.split(/\r?\n/)[0]!));
      sock.on("error", (e: NodeJS.ErrnoException) => resolve(`ERR ${e.code}`));
    });
  /** dig from inside host0 as `s`'s uid; the answer's address, or `ERR ...`. */
  const dig = async (s: HostSession, args: string[]) => {
    const r = await s.exec(["dig", ...args, "+short", "+tries=1", "+time=1"]);
    const out = r.stdout.trim();
    return r.code === 0 && /^\d+\.\d+\.\d+\.\d+$/.test(out) ? out : `ERR ${r.code} ${out.split("\n").at(-1)}`;
  };
  /** How many of a stand-in's log lines match, once what it has written is read (it logs a query before
   * it answers, so 100 ms after the answer the line is in our buffer). */
  const count = async (lines: string[], re: RegExp) => {
    await new Promise((r) => setTimeout(r, 100));
    return lines.filter((l) => re.test(l)).length;
  };

  before(async () => {
    requireSupport();
    t0 = performance.now();
    fleet = await startFleet({ count: 1 });
    const h = fleet.hosts[0]!;
    root = netnsSession(fleet, 0);
    const pw = spawnSync("getent", ["passwd", TEST_USER], { encoding: "utf8" }).stdout.split(":");
    appUid = Number(pw[2]);
    const app = { uid: appUid, gid: Number(pw[3]) };
    asApp = netnsSession(fleet, 0, { user: app });
    asProxy = netnsSession(fleet, 0, { user: { uid: PROXY_UID, gid: PROXY_UID } });
    writeFileSync(join(fleet.tmpDir, "standin.mjs"), STANDIN, { mode: 0o644 });
    writeFileSync(join(fleet.tmpDir, "client.mjs"), CLIENT, { mode: 0o644 });
    const script = join(fleet.tmpDir, "standin.mjs");

    // The network around the host (see the top of this file).
    await must(root, ["ip", "route", "add", "default", "via", fleet.controllerAddress]);
    const ctl = await fleet.execInController(["ip", "addr", "add", `${SERVICE_IP}/32`, "dev", "lo"]);
    assert.equal(ctl.code, 0, ctl.stderr);
    rootServer = createServer((s) => {
      s.on("error", () => {});
      s.end("root-server\n");
    });
    await new Promise<void>((r) => rootServer.listen(0, fleet.rootAddress, r));
    rootPort = (rootServer.address() as { port: number }).port;

    const inCtl = ["ip", "netns", "exec", fleet.controllerNetns, "setpriv", "--pdeathsig", "KILL", "--"];
    const inHost = (uid: number, gid: number) => [
      "ip", "netns", "exec", h.netns, "setpriv", "--pdeathsig", "KILL", "--reuid", String(uid), "--regid", String(gid), "--clear-groups", "--",
    ];
    const proxy = inHost(PROXY_UID, PROXY_UID);
    const user = inHost(app.uid, app.gid);
    [upstream, meshDns] = await Promise.all([
      startStandin("upstream", inCtl, script, { kind: "dns", host: fleet.controllerAddress, port: 53, answer: UPSTREAM_ANSWER }),
      // mesh-dns listens on 127.0.0.1: REDIRECT sends local traffic there, and a UDP socket on 0.0.0.0
      // would answer from the host's own address, which the client does not accept.
      startStandin("mesh-dns", proxy, script, {
        kind: "dns", host: "127.0.0.1", port: 15053, answer: MESH_ANSWER, upstream: { host: fleet.controllerAddress, port: 53 },
      }),
      startStandin("service-ip", inCtl, script, { kind: "tcp", name: "service-ip", host: SERVICE_IP, port: 80 }),
      startStandin("outbound", proxy, script, { kind: "tcp", name: "outbound", host: "0.0.0.0", port: 15001 }),
      startStandin("inbound", proxy, script, { kind: "tcp", name: "inbound", host: "0.0.0.0", port: 15006 }),
      startStandin("app", user, script, { kind: "tcp", name: "app", host: "0.0.0.0", port: 8091 }),
      startStandin("metrics", user, script, { kind: "tcp", name: "metrics", host: "0.0.0.0", port: 9100 }),
      startStandin("other", user, script, { kind: "tcp", name: "other", host: "0.0.0.0", port: 7000 }),
    ]);

    const env = fixtureEnvironment();
    assert.deepEqual(
      [env.mesh.serviceIP, env.mesh.proxyUid, env.mesh.outboundPort, env.mesh.inboundPort, env.mesh.dnsPort],
      [SERVICE_IP, PROXY_UID, 15001, 15006, 15053],
    );
    rules = hostCapture(env, "test", h.name, [
      testHostInstance("web", [8091], h.name, h.address, h.baseDir),
      testHostInstance("metrics", [9100], h.name, h.address, h.baseDir),
    ]);
  });

  after(async () => {
    stopAll();
    if (container?.pid !== undefined) {
      try {
        process.kill(container.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    rootServer?.close();
    await fleet?.cleanup();
    if (t0) process.stderr.write(`capture netns tests took ${(performance.now() - t0).toFixed(0)} ms\n`);
  });

  it("has nothing to probe or remove on a fresh host", async () => {
    assert.equal(await probeCapture(root, null), "missing");
    assert.equal((await removeCapture(ctx())).result, "unchanged");
  });

  it("applies the rendered rules, records them, and changes nothing the second time", async () => {
    const first = await applyCapture(ctx(), rules);
    assert.equal(first.result, "changed", first.message);
    assert.match(first.message, /inserted 3 hooks/);
    const second = await applyCapture(ctx(), rules);
    assert.equal(second.result, "unchanged", second.message);
    const saved = await save();
    for (const h of rules.hooks) {
      const line = `-A ${h.chain} ${h.rule}`;
      assert.equal(saved.split("\n").filter((l) => l === line).length, 1, `one copy of ${line}:\n${saved}`);
    }
    assert.deepEqual(stateFile().capture, rules);
    assert.equal(await probeCapture(root, rules), "present");
  });

  it("outbound: any port of the mesh service IP reaches the outbound sidecar", async () => {
    for (const port of [80, 8091, 5432]) assert.match(await dial(asApp, SERVICE_IP, port), /^outbound uid=1337 /, `port ${port}`);
    assert.match(await dial(root, SERVICE_IP, 80), /^outbound /, "root's traffic is captured too");
  });

  it("inbound: the apps' ports reach the inbound sidecar from outside; other ports and ssh do not", async () => {
    const h = host();
    assert.match(await dialFromOutside(h.address, 8091), /^inbound uid=1337 local=/);
    assert.match(await dialFromOutside(h.address, 9100), /^inbound /);
    assert.match(await dialFromOutside(h.address, 7000), /^other /);
    assert.match(await dialFromOutside(h.address, 22), /^SSH-2\.0-/);
    const r = await fleet.ssh(0, "echo ok");
    assert.equal(r.stdout.trim(), "ok", r.stderr);
  });

  it("leaves traffic to other addresses alone", async () => {
    assert.equal(await dial(asApp, fleet.rootAddress, rootPort), "root-server");
  });

  it("returns the proxy uid's traffic untouched", async () => {
    const h = host();
    assert.match(await dial(asProxy, SERVICE_IP, 80), /^service-ip /, "1337 to the service IP is not redirected");
    assert.match(await dial(asProxy, "127.0.0.1", 8091), /^app /, "the inbound sidecar reaches the app itself");
    assert.match(await dial(asProxy, h.address, 8091), /^app /);
  });

  it("leaves the app's traffic to itself over loopback uncaptured", async () => {
    assert.match(await dial(asApp, "127.0.0.1", 8091), /^app uid=/);
    assert.match(await dial(asApp, "127.0.0.1", 9100), /^metrics /);
  });

  it("sends the host's own calls to an app port at its own address through the inbound sidecar, as clients' calls", async () => {
    assert.match(await dial(asApp, host().address, 8091), /^inbound uid=1337 /);
    assert.match(await dial(root, host().address, 9100), /^inbound /, "root's too (the health reporter runs as root)");
    assert.match(await dial(asApp, host().address, 7000), /^other /, "other ports stay direct");
  });

  it("DNS: queries to any address on port 53, UDP and TCP, get mesh-dns's answer", async () => {
    for (const server of [fleet.controllerAddress, "192.0.2.200", "127.0.0.53", host().address]) {
      assert.equal(await dig(asApp, [`@${server}`, "web.mesh"]), MESH_ANSWER, `udp @${server}`);
      assert.equal(await dig(asApp, [`@${server}`, "+tcp", "web.mesh"]), MESH_ANSWER, `tcp @${server}`);
    }
    assert.equal(await count(upstream.lines, /web\.mesh/), 0, "the upstream never saw them");
  });

  it("DNS: mesh-dns's forwarded queries reach the upstream, not mesh-dns again, and the client gets the reply", async () => {
    for (const [i, proto] of [["1", "udp"], ["2", "tcp"]] as const) {
      const name = `n${i}.fwd.test`;
      const args = proto === "tcp" ? [`@${fleet.controllerAddress}`, "+tcp", name] : [`@${fleet.controllerAddress}`, name];
      assert.equal(await dig(asApp, args), UPSTREAM_ANSWER, proto);
      assert.equal(await count(meshDns.lines, new RegExp(`^query ${proto} ${name} `)), 1, `mesh-dns got the ${proto} query once:\n${meshDns.lines.join("\n")}`);
      assert.equal(await count(upstream.lines, new RegExp(`^query udp ${name} from ${host().address.replace(/\./g, "\\.")}:`)), 1, "forwarded once");
    }
    // The proxy uid's own queries go straight to the server named.
    assert.equal(await dig(asProxy, [`@${fleet.controllerAddress}`, "direct.example"]), UPSTREAM_ANSWER);
    assert.equal(await count(meshDns.lines, /direct\.example/), 0);
  });

  /** A client query from a fixed port P, then one that makes mesh-dns forward from that same port P (while
   * the client's conntrack entry, REDIRECTed to mesh-dns, still lives). Returns the second answer. */
  const clash = async () => {
    const port = randomInt(40000, 50000);
    const first = await dig(asApp, ["-b", `${host().address}#${port}`, `@${fleet.controllerAddress}`, `c${port}.fwd.test`]);
    assert.equal(first, UPSTREAM_ANSWER);
    const name = `p${port}.fwd.test`;
    const second = await dig(asApp, [`@${fleet.controllerAddress}`, name]);
    const looped = await count(meshDns.lines, new RegExp(`^query udp ${name} from .*:${port}$`));
    return { second, looped };
  };

  it("conntrack zones: a forwarded query from a port a client just used still reaches the upstream", async () => {
    await must(root, ["conntrack", "-F"]);
    const { second, looped } = await clash();
    assert.equal(second, UPSTREAM_ANSWER);
    assert.equal(looped, 0, "mesh-dns never receives its own forwarded query");
  });

  it("conntrack zones matter: without the raw rules that forwarded query loops back into mesh-dns", async () => {
    await must(root, ["iptables", "-w", "-t", "raw", "-D", "OUTPUT", "-j", "AMPHI_RAW_OUTPUT"]);
    try {
      assert.equal(await probeCapture(root, rules), "drifted");
      await must(root, ["conntrack", "-F"]);
      // Random ports: no clash, forwarding works without zones.
      assert.equal(await dig(asApp, [`@${fleet.controllerAddress}`, "nozone.fwd.test"]), UPSTREAM_ANSWER);
      const { second, looped } = await clash();
      assert.equal(looped, 1, `the forwarded query matched the client's NATed entry and came back:\n${meshDns.lines.slice(-6).join("\n")}`);
      assert.match(second, /^ERR/, "the client gets no answer");
    } finally {
      const fixed = await applyCapture(ctx(), rules);
      assert.equal(fixed.result, "changed");
      assert.match(fixed.message, /inserted 1 hook/);
    }
    assert.equal(await probeCapture(root, rules), "present");
  });

  it("DNS the host forwards (a container behind it, masqueraded) is left alone", async () => {
    const h = host();
    // An anonymous network namespace (gone with its process) routed through host0, like a container.
    container = spawn("setpriv", ["--pdeathsig", "KILL", "--", "unshare", "--net", "sleep", "600"], { env: childEnv, stdio: "ignore" });
    const pid = String(container.pid);
    // Only once unshare has moved it (and exec'd sleep) may the veth go to its namespace, not ours.
    const ownNet = readlinkSync("/proc/self/ns/net");
    const moved = () => {
      try {
        return readlinkSync(`/proc/${pid}/ns/net`) !== ownNet && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "sleep";
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 200 && !moved(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(moved(), "container namespace not ready");
    await must(root, ["ip", "link", "add", "ctr0", "type", "veth", "peer", "name", "eth0", "netns", pid]);
    await must(root, ["sh", "-c", "ip addr add 10.99.0.1/24 dev ctr0 && ip link set ctr0 up && sysctl -qw net.ipv4.ip_forward=1"]);
    await must(root, ["iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", "10.99.0.0/24", "-o", "eth0", "-j", "MASQUERADE"]);
    const inCtr = (argv: string[]) => run("nsenter", ["--target", pid, "--net", "--", ...argv]);
    for (const cmd of [["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", "10.99.0.2/24", "dev", "eth0"], ["ip", "link", "set", "eth0", "up"], ["ip", "route", "add", "default", "via", "10.99.0.1"]]) {
      const r = await inCtr(cmd);
      assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
    }
    const ctrDig = async (name: string) => {
      const r = await inCtr(["dig", `@${fleet.controllerAddress}`, name, "+short", "+tries=1", "+time=1"]);
      return r.code === 0 && /^[\d.]+$/.test(r.stdout.trim()) ? r.stdout.trim() : `ERR ${r.code}`;
    };
    assert.equal(await ctrDig("ctr1.example"), UPSTREAM_ANSWER, "the container's query and the reply pass the host");
    assert.equal(await count(upstream.lines, new RegExp(`^query udp ctr1\\.example from ${h.address.replace(/\./g, "\\.")}:`)), 1, "masqueraded");

    // The rules amphi rendered before: zone 1 set in raw PREROUTING for every UDP reply from port 53.
    const old = await applyCapture(ctx(), oldRules(rules));
    assert.equal(old.result, "changed");
    assert.match(await ctrDig("ctr2.example"), /^ERR/, "the reply lands in zone 1, misses its zone-0 entry, is never un-NATed");
    assert.equal(await count(upstream.lines, /ctr2\.example/), 1, "the query did reach the upstream");

    // Applying the current rules removes the stale chain and hook.
    const upgraded = await applyCapture(ctx(), rules);
    assert.equal(upgraded.result, "changed");
    assert.match(upgraded.message, /removed stale AMPHI_RAW_PREROUTING/);
    assert.match(upgraded.message, /removed 1 stale hook/);
    const saved = await save();
    assert.doesNotMatch(saved, /AMPHI_RAW_PREROUTING/);
    assert.equal(await probeCapture(root, rules), "present");
    assert.equal(await ctrDig("ctr3.example"), UPSTREAM_ANSWER);
    await must(root, ["iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-s", "10.99.0.0/24", "-o", "eth0", "-j", "MASQUERADE"]);
  });

  it("probe: drifted after someone flushes a chain by hand; apply repairs it", async () => {
    await must(root, ["iptables", "-w", "-t", "nat", "-F", "AMPHI_OUTPUT"]);
    assert.equal(await probeCapture(root, rules), "drifted");
    assert.match(await dial(asApp, SERVICE_IP, 80), /^service-ip /, "really not captured any more");
    const r = await applyCapture(ctx(), rules);
    assert.equal(r.result, "changed");
    assert.match(r.message, /wrote AMPHI_OUTPUT/);
    assert.equal(await probeCapture(root, rules), "present");
    assert.match(await dial(asApp, SERVICE_IP, 80), /^outbound /);
  });

  it("probe: drifted when rules are there but none are recorded, or other rules are", async () => {
    assert.equal(await probeCapture(root, null), "drifted");
    const other = hostCapture(fixtureEnvironment(), "test", host().name, [testHostInstance("web", [8092], host().name, host().address, host().baseDir)]);
    assert.equal(await probeCapture(root, other), "drifted");
  });

  it("a changed port list: changed, the old port no longer captured, the new one captured", async () => {
    const h = host();
    const moved = hostCapture(fixtureEnvironment(), "test", h.name, [
      testHostInstance("web", [8092], h.name, h.address, h.baseDir),
      testHostInstance("metrics", [9100], h.name, h.address, h.baseDir),
    ]);
    const r = await applyCapture(ctx(), moved);
    assert.equal(r.result, "changed");
    assert.match(r.message, /wrote AMPHI_PREROUTING/);
    assert.match(await dialFromOutside(h.address, 8091), /^app /, "8091 reaches the app directly now");
    assert.match(await dialFromOutside(h.address, 8092), /^inbound /);
    assert.match(await dialFromOutside(h.address, 9100), /^inbound /);
    assert.deepEqual(stateFile().capture, moved);
    assert.equal((await applyCapture(ctx(), moved)).result, "unchanged");
    assert.equal((await applyCapture(ctx(), rules)).result, "changed");
  });

  it("records the rules when they are in place but state.json lost them", async () => {
    const state = stateFile();
    writeFileSync(join(host().baseDir, "state.json"), JSON.stringify({ ...state, capture: null }));
    const r = await applyCapture(ctx(), rules);
    assert.equal(r.result, "changed");
    assert.match(r.message, /already in place; recorded/);
    assert.deepEqual(stateFile().capture, rules);
  });

  it("reports iptables-restore's error, naming the host", async () => {
    const bad: CaptureRules = { ...rules, fragment: rules.fragment.replace("-j AMPHI_OUT_REDIRECT", "-j AMPHI_NO_SUCH_CHAIN") };
    await assert.rejects(applyCapture(ctx(), bad), (e: unknown) => {
      assert.ok(e instanceof TaskError);
      assert.equal(e.host, host().name);
      assert.match(e.message, new RegExp(`^${host().name}: capture: iptables-restore failed: \\S`));
      return true;
    });
    assert.equal(await probeCapture(root, rules), "present", "a failed restore changes nothing");
  });

  it("needs root: an unprivileged session without sudo gets a clear error", async () => {
    await assert.rejects(applyCapture({ ...ctx(), session: asApp }, rules), (e: unknown) => {
      assert.ok(e instanceof TaskError);
      assert.equal(
        e.causeText,
        `capture needs root on ${host().name}: connect as root or allow sudo -n iptables-restore (and iptables, iptables-save)`,
      );
      return true;
    });
    await assert.rejects(probeCapture(asApp, rules), /capture needs root/);
  });

  it("removes every hook and chain, clears state.json, and then has nothing to do", async () => {
    // A duplicated hook (someone ran an old script twice) goes too.
    await must(root, ["iptables", "-w", "-t", "nat", "-I", "OUTPUT", "1", "-j", "AMPHI_OUTPUT"]);
    const r = await removeCapture(ctx());
    assert.equal(r.result, "changed", r.message);
    assert.match(r.message, /4 hooks, 5 AMPHI chains/);
    const saved = await must(root, ["iptables-save"]); // every table
    assert.equal(saved.split("\n").filter((l) => l.includes("AMPHI")).length, 0, saved);
    assert.equal(stateFile().capture, null);
    assert.equal((await removeCapture(ctx())).result, "unchanged");
    assert.equal(await probeCapture(root, rules), "missing");
    assert.match(await dial(asApp, SERVICE_IP, 80), /^service-ip /);
    assert.match(await dialFromOutside(host().address, 8091), /^app /);
    assert.equal(await dig(asApp, [`@${fleet.controllerAddress}`, "after.example"]), UPSTREAM_ANSWER);
    assert.ok(logs.some((l) => l.startsWith("capture: iptables-restore --noflush")), logs.join("\n"));
  });
});
