// Test hosts that are real OpenSSH servers, each in its own Linux network namespace on this machine.
//
// Topology of one fleet (all names carry the pid and a random suffix, so runs sharing the machine
// never collide):
//
//   root namespace (the test process, amphi's SSH client)
//     am<id>  veth, address .2 of the fleet subnet  ──┐
//                                                     │ (peer "uplink")
//   controller namespace  amphi-<pid>-<rand>-ctl      ▼
//     br0  bridge, address .1  ── uplink, h0, h1, ... (veth ends)
//                                       │
//   host namespace  amphi-<pid>-<rand>-h<i>           ▼ (peer "eth0")
//     lo, eth0 with address .10+i, sshd -D listening on <address>:22
//
// Each host's sshd also runs as pid 1 of its own pid namespace (and in a private mount namespace
// with its own /proc), so a host looks like a machine to what runs on it: it sees only its own
// processes, daemons started over SSH die with it, and stopHost is "kill pid 1". The file system is
// shared with the machine: each host gets its own baseDir under the fleet's temp dir.
//
// Everything is layer 2 on one bridge: no namespace has a default route and nothing forwards, so
// traffic to the fleet never leaves the machine. The subnet is a random free block of 198.18.0.0/15
// (RFC 2544 benchmarking space, never used on real networks), and that /15 gets an `unreachable`
// route in the root namespace so a packet sent after a fleet is gone fails locally instead of
// following the default route out.
//
// Test user: one fixed, shared system user `amphitest` (shell /bin/sh, password field `*`, home
// /var/lib/amphitest), created by the first fleet that needs it and never removed. useradd/userdel
// take a lock on /etc/passwd and fail when another run holds it, and a per-fleet user leaks when a
// run is killed; a stable user that can only log in with a fleet's key, on a fleet's sshd, avoids
// both. Root may log in too (PermitRootLogin prohibit-password) for tasks that need it (iptables).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findExecutable, runPiped } from "../../src/adapters/process/spawn.js";
import { spawnSync } from "./spawn.js";

/** One sshd test host. */
export interface TestHost {
  /** Host name for configs and messages (`host0`, `host1`, ... or `<prefix><i>`). */
  name: string;
  /** IPv4 address sshd listens on; reachable from the root namespace and the controller. */
  address: string;
  /** Network namespace name (for `ip netns exec`). */
  netns: string;
  /** Always 22: every host has its own address. */
  sshPort: number;
  /** The unprivileged login user (shell /bin/sh). Root can log in with the same key. */
  user: string;
  /** This host's line for a known_hosts file (`<address> ssh-ed25519 AAAA...`). */
  hostKeyLine: string;
  /** A directory only this host uses, owned by `user`; stands in for e.g. /opt/amphi. */
  baseDir: string;
}

/** Result of a command run by the fleet helpers. `code` is -1 when the command died by a signal. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for the exec helpers. */
export interface ExecOptions {
  /** Written to the command's stdin (stdin is closed either way). */
  input?: string;
  /** Kill the command (SIGKILL) after this many ms; default 30 000. */
  timeoutMs?: number;
}

/** A running fleet of sshd test hosts; see startFleet. */
export interface TestFleet {
  /** Name of the controller namespace holding the bridge. */
  controllerNetns: string;
  hosts: TestHost[];
  /** Client private key (ed25519, no passphrase) accepted by every host for `user` and root. */
  privateKeyPath: string;
  /** known_hosts file with every host's key line. */
  knownHostsPath: string;
  /** The fleet's temp dir (keys, sshd configs and logs, host base dirs); removed by cleanup. */
  tmpDir: string;
  /** The fleet subnet in CIDR notation, e.g. `198.18.37.0/24`. */
  subnet: string;
  /** Address of the root namespace's veth into the bridge: the source address of test clients, and
   * the address at which hosts reach servers the test runs (bind them to it, or to 0.0.0.0). */
  rootAddress: string;
  /** Address of the bridge in the controller namespace. */
  controllerAddress: string;
  /** Run a command in the controller namespace (the bridge side) as root. */
  execInController(cmd: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Run a command as root on host i without SSH: in its network, pid and mount namespaces while it
   * is up (it sees the host's processes), in its network namespace only while it is stopped. */
  execOnHost(i: number, cmd: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Arguments for the real `ssh` client to run `remoteCmd` on host i (default user: the test user).
   * Strict host-key checking against the fleet's known_hosts, batch mode, no user config. */
  sshArgs(i: number, remoteCmd: string, opts?: { user?: string; knownHostsPath?: string }): string[];
  /** Run `remoteCmd` on host i with the real `ssh` client from the root namespace. */
  ssh(i: number, remoteCmd: string, opts?: { user?: string; knownHostsPath?: string } & ExecOptions): Promise<ExecResult>;
  /** Simulate host i crashing: SIGKILL every process of the host (sshd, sessions, daemons started
   * over SSH, anything execOnHost left running) and wait until they are gone. Its address stays up,
   * so new connections are refused at once. */
  stopHost(i: number): Promise<void>;
  /** Start host i's sshd again (same address and host key) and wait until it accepts connections. */
  startHost(i: number): Promise<void>;
  /** Cut host i off the bridge (link down): packets to it are dropped, connections time out or
   * fail with "no route to host". Processes keep running. */
  disconnectHost(i: number): Promise<void>;
  /** Undo disconnectHost. */
  reconnectHost(i: number): Promise<void>;
  /** Kill the fleet's processes, delete its namespaces and links, remove its temp dir. Idempotent. */
  cleanup(): Promise<void>;
}

/** Options for startFleet. */
export interface FleetOptions {
  /** Number of hosts (1..1000). */
  count: number;
  /** Host name prefix (lowercase letters, digits, `-`); default `host` → host0, host1, ... */
  prefix?: string;
  /** Hide root's ~/.bashrc from the hosts' sshd (default true). Root's shell is bash, and this
   * machine's /root/.bashrc (pyenv init) adds ~80 ms to every command run as root over SSH. The
   * bind mount lives only in each sshd's private mount namespace. */
  hideRootBashrc?: boolean;
}

/** The shared unprivileged login user of every fleet (see the top of this file). */
export const TEST_USER = "amphitest";
const TEST_USER_HOME = "/var/lib/amphitest";
const SSHD = "/usr/sbin/sshd";
/** RFC 2544 benchmarking block: fleets take random free sub-blocks of it. */
const SUPERNET_BASE = ipToInt("198.18.0.0");
const SUPERNET_BITS = 15;
/** Host i gets subnet base + HOST_OFFSET + i (.1 bridge, .2 root veth). */
const HOST_OFFSET = 10;

const SBIN_PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;
const childEnv = { ...process.env, PATH: SBIN_PATH, LC_ALL: "C" };

// ---------------------------------------------------------------------------------------------
// Support check

let supportCache: { ok: true } | { ok: false; reason: string } | undefined;

/** Whether fleets can run here: Linux, root, sshd/ssh/ssh-keygen/ip installed, and `ip netns`
 * working (a probe namespace is created and deleted once per process; the result is cached). */
export function fleetSupported(): { ok: true } | { ok: false; reason: string } {
  if (supportCache) return supportCache;
  supportCache = checkSupport();
  return supportCache;
}

function checkSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: `network namespaces need Linux, not ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "network namespaces and sshd test hosts need root" };
  if (!existsSync(SSHD)) return { ok: false, reason: `${SSHD} missing: run scripts/install-test-deps.sh` };
  for (const bin of ["ssh", "ssh-keygen", "ip", "unshare", "nsenter", "setpriv", "mount", "useradd", "usermod"]) {
    if (findExecutable(bin, childEnv) === null) {
      return { ok: false, reason: `${bin} missing: run scripts/install-test-deps.sh` };
    }
  }
  const probe = `amphi-probe-${process.pid}-${randomBytes(3).toString("hex")}`;
  const add = spawnSync("ip", ["netns", "add", probe], { env: childEnv, encoding: "utf8" });
  if (add.status !== 0) return { ok: false, reason: `ip netns add failed: ${(add.stderr || add.error?.message || "").trim()}` };
  const veth = spawnSync("ip", ["-n", probe, "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1"], { env: childEnv, encoding: "utf8" });
  spawnSync("ip", ["netns", "del", probe], { env: childEnv });
  if (veth.status !== 0) return { ok: false, reason: `veth links unavailable: ${veth.stderr.trim()}` };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Small process helpers

/** Command prefix that runs argv as root in network namespace `ns` (one of ours, under /run/netns). Where the
 * namespace has no /etc/netns/<ns>/ (its own resolv.conf, say, which only `ip netns exec` bind-mounts over /etc), it
 * is `nsenter --net=/run/netns/<ns>`: the same network namespace and, like `ip netns exec`, the command itself
 * as the child (nsenter execs it: a kill reaches it), without the new mount namespace and /sys remount that `ip
 * netns exec` makes on every call (nothing run here reads /sys; that work showed in every profile of the
 * suite). */
export function inNetns(ns: string): string[] {
  return existsSync(`/etc/netns/${ns}`) ? ["ip", "netns", "exec", ns] : ["nsenter", `--net=/run/netns/${ns}`, "--"];
}

/** An argv as spawn's and run's (command, args): `run(...splitArgv([...inNetns(ns), ...argv]))`. */
export function splitArgv(argv: string[]): [string, string[]] {
  return [argv[0] as string, argv.slice(1)];
}

/** Runs a command (no shell), collects output; never rejects on a non-zero exit. */
export async function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await runPiped(cmd, args, { env: childEnv, timeoutMs: opts.timeoutMs ?? 30_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  return { code: r.code ?? -1, stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8") };
}

/** Like run, but rejects with the command's stderr when it exits non-zero. */
async function must(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/** Maps with at most `limit` calls in flight (the machine has 2 cores; spawning 50 at once only thrashes). */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Addresses

/** A dotted IPv4 address as a number. */
export function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** A number as a dotted IPv4 address. */
export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** IPv4 routes and addresses of the root namespace, as [base, size] ranges. */
async function usedRanges(): Promise<Array<[number, number]>> {
  const out: Array<[number, number]> = [];
  const routes = await run("ip", ["-4", "-o", "route", "show", "table", "all"]);
  const addrs = await run("ip", ["-4", "-o", "addr", "show"]);
  const re = /(?:^|\s)(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?(?=\s)/g;
  for (const line of (routes.stdout + "\n" + addrs.stdout).split("\n")) {
    // The covering `unreachable 198.18.0.0/15` guard route is ours and overlaps everything.
    if (/^unreachable 198\.18\.0\.0\/15/.test(line)) continue;
    for (const m of line.matchAll(re)) {
      const bits = m[2] === undefined ? 32 : Number(m[2]);
      if (bits === 0) continue; // default route
      const size = 2 ** (32 - bits);
      out.push([Math.floor(ipToInt(m[1] as string) / size) * size, size]);
    }
  }
  return out;
}

/** Subnets picked by fleets of this process that may not show up in `ip route` yet. */
const reservedSubnets = new Map<number, number>(); // base -> size

/** Picks a random block of 198.18.0.0/15 large enough for `count` hosts that overlaps no route or
 * address in the root namespace (other runs' fleets show up there through their root veth) and no
 * block reserved by a fleet of this process that is still starting. */
async function chooseSubnet(count: number): Promise<{ base: number; bits: number }> {
  let bits = 24;
  while (2 ** (32 - bits) < HOST_OFFSET + count + 1 /* broadcast */) bits--;
  const size = 2 ** (32 - bits);
  const blocks = 2 ** (32 - SUPERNET_BITS) / size;
  const used = [...(await usedRanges()), ...reservedSubnets.entries()];
  for (let attempt = 0; attempt < 64; attempt++) {
    const base = SUPERNET_BASE + (randomBytes(4).readUInt32BE() % blocks) * size;
    if (!used.some(([b, s]) => b < base + size && base < b + s)) {
      reservedSubnets.set(base, size);
      return { base, bits };
    }
  }
  throw new Error("no free subnet in 198.18.0.0/15 (too many fleets on this machine?)");
}

// ---------------------------------------------------------------------------------------------
// Test user and sshd features (once per process)

let userPromise: Promise<{ uid: number; gid: number }> | undefined;

/** Creates the shared test user if missing; retries while another run holds the passwd lock. */
function ensureTestUser(): Promise<{ uid: number; gid: number }> {
  userPromise ??= (async () => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const pw = await run("getent", ["passwd", TEST_USER]);
      if (pw.code === 0) break;
      const add = await run("useradd", [
        "--system", "--user-group", "--shell", "/bin/sh", "--home-dir", TEST_USER_HOME, "--create-home",
        "--comment", "amphi test hosts", TEST_USER,
      ]);
      if (add.code === 0 || add.code === 9 /* exists: another run made it */) continue;
      if (Date.now() > deadline) throw new Error(`useradd ${TEST_USER} failed: ${add.stderr.trim()}`);
      await sleep(50 + Math.random() * 100); // "cannot lock /etc/passwd; try again later"
    }
    // A useradd user has password field "!" (locked), and with `UsePAM no` sshd refuses locked
    // accounts even for public-key logins. "*" means "no password" without locking.
    for (;;) {
      const sh = await run("getent", ["shadow", TEST_USER]);
      const field = sh.stdout.split(":")[1] ?? "";
      if (sh.code === 0 && !field.startsWith("!")) break;
      const mod = await run("usermod", ["-p", "*", TEST_USER]);
      if (mod.code !== 0 && Date.now() > deadline) throw new Error(`usermod -p '*' ${TEST_USER} failed: ${mod.stderr.trim()}`);
      if (mod.code !== 0) await sleep(50 + Math.random() * 100);
    }
    const fields = (await must("getent", ["passwd", TEST_USER])).stdout.trim().split(":");
    mkdirSync(TEST_USER_HOME, { recursive: true });
    const ids = { uid: Number(fields[2]), gid: Number(fields[3]) };
    chownSync(TEST_USER_HOME, ids.uid, ids.gid);
    return ids;
  })();
  userPromise.catch(() => (userPromise = undefined)); // let a later fleet try again
  return userPromise;
}

let sshdExtraPromise: Promise<string[]> | undefined;

/** Config lines that depend on the sshd version. OpenSSH ≥ 9.8 (Debian 13) has PerSourcePenalties on
 * by default; every test connection comes from the one root-veth address, so a few failed logins
 * (the key-mismatch tests) would lock all clients out for a while. Older sshd rejects the keyword. */
function sshdExtraConfig(dir: string): Promise<string[]> {
  sshdExtraPromise ??= (async () => {
    const probe = join(dir, "sshd_probe_config");
    const key = join(dir, "probe_key");
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    writeFileSync(probe, `HostKey ${key}\nPerSourcePenalties no\n`);
    const t = await run(SSHD, ["-t", "-f", probe]);
    rmSync(probe, { force: true });
    rmSync(key, { force: true });
    rmSync(`${key}.pub`, { force: true });
    return t.code === 0 ? ["PerSourcePenalties no"] : [];
  })();
  return sshdExtraPromise;
}

// ---------------------------------------------------------------------------------------------
// Exit-time cleanup of fleets a test forgot (or could not) clean up

const liveFleets = new Set<{ cleanupSync(): void }>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const cleanAll = () => {
    for (const f of [...liveFleets]) {
      try {
        f.cleanupSync();
      } catch {
        // best effort: the process is going away
      }
    }
  };
  process.on("exit", cleanAll);
  // 'exit' does not run when a signal kills the process (e.g. the test runner's SIGTERM on a
  // timeout): clean up, then die by the same signal unless someone else handles it.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      cleanAll();
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

// ---------------------------------------------------------------------------------------------
// The fleet

interface HostState extends TestHost {
  dir: string;
  configPath: string;
  logPath: string;
  /** Our child: `unshare --pid --fork`, which waits for the host's init (sshd). */
  launcher?: ChildProcess;
  /** The host's init, i.e. its sshd listener: pid 1 in the host's pid namespace; root-ns pid here. */
  initPid?: number;
}

const alive = (c: ChildProcess | undefined): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null;

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Starts `count` sshd hosts in fresh network namespaces (see the topology at the top of this file)
 * and resolves once every sshd accepts TCP connections from the root namespace. Throws when
 * fleetSupported() is not ok. Always call cleanup() (an exit hook is a best-effort backstop). */
export async function startFleet(opts: FleetOptions): Promise<TestFleet> {
  const support = fleetSupported();
  if (!support.ok) throw new Error(`sshd test hosts unavailable: ${support.reason}`);
  const count = opts.count;
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new Error(`count must be 1..1000, got ${count}`);
  const prefix = opts.prefix ?? "host";
  if (!/^[a-z][a-z0-9-]*$/.test(prefix)) throw new Error(`prefix must match [a-z][a-z0-9-]*, got ${prefix}`);

  const rand = randomBytes(3).toString("hex");
  const id = `${process.pid}-${rand}`;
  const tmpDir = mkdtempSync(join(tmpdir(), `amphi-fleet-${id}-`));
  // sshd reads AuthorizedKeysFile as the logging-in user: every directory on the way must be
  // traversable by it (mkdtemp makes 0700).
  chmodSync(tmpDir, 0o755);

  const controllerNetns = `amphi-${id}-ctl`;
  // The only interface name in the shared root namespace: ≤ 15 chars, unique per pid + random.
  const rootVeth = `am${process.pid.toString(36)}${rand.slice(0, 4)}`;
  const hosts: HostState[] = [];
  let subnetBase: number | undefined; // reserved in reservedSubnets until cleanup
  let created = false; // namespaces exist → cleanup must delete them
  let cleaned = false;

  // Sync teardown used both by cleanup() and the exit hook: kill (SIGKILL, "power off") each
  // host's init, which takes its whole pid namespace down, then anything else left in the fleet's
  // network namespaces — all of it started by this fleet or its tests — then delete the
  // namespaces, which destroys their veths and so the root veth too.
  const namespaces = () => [...hosts.map((h) => h.netns), controllerNetns];
  const cleanupSync = () => {
    if (cleaned) return;
    cleaned = true;
    liveFleets.delete(fleetRef);
    if (created) {
      for (const h of hosts) if (h.initPid !== undefined && alive(h.launcher)) killQuietly(h.initPid);
      for (const ns of namespaces()) {
        const pids = spawnSync("ip", ["netns", "pids", ns], { env: childEnv, encoding: "utf8" }).stdout ?? "";
        for (const pid of pids.split(/\s+/).filter(Boolean)) killQuietly(Number(pid));
      }
      spawnSync("ip", ["-force", "-batch", "-"], { env: childEnv, input: namespaces().map((ns) => `netns del ${ns}\n`).join("") });
      spawnSync("ip", ["link", "del", rootVeth], { env: childEnv }); // normally gone already
    }
    rmSync(tmpDir, { recursive: true, force: true });
    if (subnetBase !== undefined) reservedSubnets.delete(subnetBase);
  };
  const fleetRef = { cleanupSync };
  liveFleets.add(fleetRef);
  installExitHooks();

  // AMPHI_FLEET_DEBUG=1 prints how long each start-up phase took.
  const t0 = performance.now();
  const phase = (what: string) => {
    if (process.env.AMPHI_FLEET_DEBUG === "1") process.stderr.write(`fleet ${id}: ${what} at ${(performance.now() - t0).toFixed(0)} ms\n`);
  };

  try {
    const [user, sshdExtra, subnet] = await Promise.all([ensureTestUser(), sshdExtraConfig(tmpDir), chooseSubnet(count)]);
    subnetBase = subnet.base;
    const prefixLen = subnet.bits;
    const controllerAddress = intToIp(subnet.base + 1);
    const rootAddress = intToIp(subnet.base + 2);

    // Client key, authorized for every host (test user and root).
    const privateKeyPath = join(tmpDir, "id_ed25519");
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `amphi-fleet-${id}`, "-f", privateKeyPath]);
    const authorizedKeysPath = join(tmpDir, "authorized_keys");
    writeFileSync(authorizedKeysPath, readFileSync(`${privateKeyPath}.pub`), { mode: 0o644 });

    // sshd's privilege-separation directory (normally made by the service we never start).
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

    for (let i = 0; i < count; i++) {
      const name = `${prefix}${i}`;
      const dir = join(tmpDir, "hosts", name);
      hosts.push({
        name,
        address: intToIp(subnet.base + HOST_OFFSET + i),
        netns: `amphi-${id}-h${i}`,
        sshPort: 22,
        user: TEST_USER,
        hostKeyLine: "",
        baseDir: join(dir, "opt-amphi"),
        dir,
        configPath: join(dir, "sshd_config"),
        logPath: join(dir, "sshd.log"),
      });
    }

    // Per-host files: host key (one per host, so key-mismatch tests can swap lines), config, base dir.
    await mapLimit(hosts, 8, async (h) => {
      mkdirSync(h.baseDir, { recursive: true, mode: 0o755 });
      chmodSync(h.dir, 0o755);
      chownSync(h.baseDir, user.uid, user.gid);
      const keyPath = join(h.dir, "ssh_host_ed25519_key");
      await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", h.name, "-f", keyPath]);
      const [type, key] = readFileSync(`${keyPath}.pub`, "utf8").trim().split(/\s+/);
      h.hostKeyLine = `${h.address} ${type} ${key}`;
      writeFileSync(
        h.configPath,
        [
          `# sshd for amphi test host ${h.name} (netns ${h.netns})`,
          `ListenAddress ${h.address}`,
          "Port 22",
          `HostKey ${keyPath}`,
          // Holds sshd's pid inside its pid namespace (1); the fleet tracks the real pid itself.
          `PidFile ${join(h.dir, "sshd.pid")}`,
          "UsePAM no",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PubkeyAuthentication yes",
          `AuthorizedKeysFile ${authorizedKeysPath}`,
          "StrictModes no",
          "PermitRootLogin prohibit-password",
          "MaxSessions 64",
          "MaxStartups 200",
          "UseDNS no",
          "PrintMotd no",
          "PrintLastLog no",
          "X11Forwarding no",
          // node-ssh's putFile speaks SFTP; in-process, so no sftp-server binary is needed.
          "Subsystem sftp internal-sftp",
          ...sshdExtra,
          "",
        ].join("\n"),
      );
    });
    phase("keys and configs written");
    const knownHostsPath = join(tmpDir, "known_hosts");
    writeFileSync(knownHostsPath, hosts.map((h) => h.hostKeyLine + "\n").join(""), { mode: 0o644 });

    // Guard: an `unreachable` route for the whole /15 (longer prefixes of live fleets win), so
    // traffic to a fleet address never follows the default route off the machine, e.g. a late
    // retry after cleanup. Shared by all runs and deliberately left in place; "File exists" is fine.
    await run("ip", ["route", "add", "unreachable", `${intToIp(SUPERNET_BASE)}/${SUPERNET_BITS}`, "metric", "4000"]);

    // Namespaces and links, in a few `ip -batch` calls instead of ~6 processes per host.
    created = true;
    await must("ip", ["-batch", "-"], {
      input: [
        `netns add ${controllerNetns}`,
        ...hosts.map((h) => `netns add ${h.netns}`),
        `link add name ${rootVeth} type veth peer name uplink netns ${controllerNetns}`,
        `addr add ${rootAddress}/${prefixLen} dev ${rootVeth}`,
        `link set ${rootVeth} up`,
        "",
      ].join("\n"),
    });
    await must("ip", ["-n", controllerNetns, "-batch", "-"], {
      input: [
        "link set lo up",
        "link add name br0 type bridge",
        `addr add ${controllerAddress}/${prefixLen} dev br0`,
        "link set br0 up",
        "link set uplink master br0",
        "link set uplink up",
        // Creating the pair from the controller puts one end here and the other straight into the
        // host namespace, so no per-host name ever exists in the shared root namespace.
        ...hosts.flatMap((h, i) => [
          `link add name h${i} type veth peer name eth0 netns ${h.netns}`,
          `link set h${i} master br0`,
          `link set h${i} up`,
        ]),
        "",
      ].join("\n"),
    });
    await mapLimit(hosts, 8, (h) =>
      must("ip", ["-n", h.netns, "-batch", "-"], {
        input: ["link set lo up", `addr add ${h.address}/${prefixLen} dev eth0`, "link set eth0 up", ""].join("\n"),
      }),
    );

    phase("namespaces and links up");
    const hideRootBashrc = (opts.hideRootBashrc ?? true) && existsSync("/root/.bashrc");

    // Each host's sshd runs as pid 1 of its own pid namespace, in its own mount namespace:
    //   ip netns exec NS unshare --pid --fork --kill-child --mount-proc sh -c '...; exec sshd -D'
    // - `ip netns exec` enters the network namespace and execs the rest (so our child's pid is
    //   unshare's) in a private mount namespace; nothing mounted there reaches the machine.
    // - The pid namespace makes the host behave like a machine: `ps`/`pgrep` on host0 do not see
    //   host1's processes, daemons that amphi starts over SSH are re-parented to the host's sshd
    //   (which reaps them) instead of the machine's init, and killing sshd (pid 1 there) kills
    //   every process of the host at once: that is stopHost. `--mount-proc` gives it a matching /proc.
    // - `--kill-child` ties sshd's life to unshare's, so killing our child never orphans a host.
    // - The bind mount hides root's slow ~/.bashrc from this host only (see FleetOptions).
    // - `-r`: sshd serves each connection from a fork of itself instead of executing itself again (its default, for
    //   a fresh address space layout per connection): ~30 ms of CPU less per connection (loading sshd, its libraries,
    //   config and host key), and every amphi command opens one per host. Nothing a client sees changes.
    const startSshd = (h: HostState): Promise<void> => {
      const log = openSync(h.logPath, "a");
      const script = `${hideRootBashrc ? "mount --bind /dev/null /root/.bashrc; " : ""}exec ${SSHD} -D -e -r -f "$1"`;
      const child = spawn(
        "ip",
        ["netns", "exec", h.netns, "unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "/bin/sh", "-c", script, "sh", h.configPath],
        { env: childEnv, stdio: ["ignore", log, log] },
      );
      closeSync(log);
      // Don't let a forgotten fleet keep the test process alive; the exit hook kills it.
      child.unref();
      h.launcher = child;
      h.initPid = undefined;
      return waitForListen(h, child);
    };

    const waitForListen = async (h: HostState, child: ChildProcess): Promise<void> => {
      let exited: string | undefined;
      child.once("exit", (code, sig) => (exited = `sshd exited (${code ?? sig})`));
      child.once("error", (err) => (exited = `spawn failed: ${err.message}`));
      // A safety net: sshd either listens or exits (both seen here); starting 16 at once took over 5 s beside CPU hogs.
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (exited) break;
        // The host's init is unshare's only child (needs CONFIG_PROC_CHILDREN, standard).
        if (h.initPid === undefined && child.pid !== undefined) {
          const kids = readChildren(child.pid);
          if (kids.length > 0) h.initPid = kids[0];
        }
        if (h.initPid !== undefined && (await tcpOpen(h.address, 22, 500))) return;
        if (Date.now() > deadline) break;
        await sleep(10);
      }
      const log = existsSync(h.logPath) ? readFileSync(h.logPath, "utf8").trim().split("\n").slice(-5).join("\n") : "";
      throw new Error(`${h.name} (${h.address}): sshd not accepting connections: ${exited ?? "timeout after 120 s"}\n${log}`);
    };

    await mapLimit(hosts, 16, startSshd);
    phase("every sshd accepts connections");

    const host = (i: number): HostState => {
      const h = hosts[i];
      if (!h) throw new Error(`no host ${i} (fleet has ${hosts.length})`);
      return h;
    };

    const sshArgs = (i: number, remoteCmd: string, o: { user?: string; knownHostsPath?: string } = {}) => {
      const h = host(i);
      return [
        "-F", "/dev/null", // ignore root's ~/.ssh/config
        "-i", privateKeyPath,
        "-o", "IdentitiesOnly=yes",
        "-o", `UserKnownHostsFile=${o.knownHostsPath ?? knownHostsPath}`,
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR",
        "-p", String(h.sshPort),
        `${o.user ?? h.user}@${h.address}`,
        remoteCmd,
      ];
    };

    /** "Powers off" a host: SIGKILL its init (the kernel then kills its whole pid namespace),
     * wait for our unshare child to be reaped, then kill whatever else is left in its network
     * namespace (commands run by execOnHost while it was down) until nothing is. */
    const killHostProcesses = async (h: HostState) => {
      const launcher = h.launcher;
      // Only while unshare is alive is initPid surely still our host's sshd (no pid reuse).
      if (alive(launcher)) {
        if (h.initPid !== undefined) killQuietly(h.initPid);
        else if (launcher.pid !== undefined) killQuietly(launcher.pid); // --kill-child takes sshd along
        await Promise.race([new Promise((r) => launcher.once("exit", r)), sleep(2000)]);
      }
      h.launcher = undefined;
      h.initPid = undefined;
      for (let round = 0; round < 100; round++) {
        const pids = (await run("ip", ["netns", "pids", h.netns])).stdout.split(/\s+/).filter(Boolean);
        if (pids.length === 0) return;
        for (const pid of pids) killQuietly(Number(pid));
        await sleep(10);
      }
      throw new Error(`${h.name}: processes in ${h.netns} survive SIGKILL`);
    };

    /** Command prefix that runs as root inside host i: in its pid and mount namespaces too while
     * it is up (so it sees the host's processes, and orphans are reaped by the host's init), only
     * in its network namespace while it is down. `setpriv --pdeathsig KILL` makes a timeout's
     * SIGKILL of nsenter (which forks for the pid namespace) reach the command as well. */
    const onHost = (h: HostState): string[] =>
      h.initPid !== undefined && alive(h.launcher)
        ? ["nsenter", "--target", String(h.initPid), "--net", "--pid", "--mount", "--", "setpriv", "--pdeathsig", "KILL", "--"]
        : inNetns(h.netns);

    const fleet: TestFleet = {
      controllerNetns,
      hosts,
      privateKeyPath,
      knownHostsPath,
      tmpDir,
      subnet: `${intToIp(subnet.base)}/${prefixLen}`,
      rootAddress,
      controllerAddress,
      execInController: (cmd, o) => {
        const [bin, ...args] = [...inNetns(controllerNetns), ...cmd];
        return run(bin as string, args, o);
      },
      execOnHost: (i, cmd, o) => {
        const [bin, ...args] = [...onHost(host(i)), ...cmd];
        return run(bin as string, args, o);
      },
      sshArgs,
      ssh: (i, remoteCmd, o = {}) => run("ssh", sshArgs(i, remoteCmd, o), o),
      stopHost: async (i) => {
        await killHostProcesses(host(i));
      },
      startHost: async (i) => {
        const h = host(i);
        if (alive(h.launcher)) return; // running
        await startSshd(h);
      },
      disconnectHost: async (i) => {
        await must("ip", ["-n", controllerNetns, "link", "set", `h${i}`, "down"]);
        // Forget the host's MAC in the root namespace so the next packet needs ARP, which now fails.
        await run("ip", ["neigh", "flush", "to", host(i).address, "dev", rootVeth]);
      },
      reconnectHost: async (i) => {
        await must("ip", ["-n", controllerNetns, "link", "set", `h${i}`, "up"]);
      },
      cleanup: async () => {
        if (cleaned) return;
        // Kill first and let our children be reaped, so namespace deletion frees the veths now and
        // no <defunct> entries are left for the machine's init.
        await Promise.all(hosts.map((h) => killHostProcesses(h).catch(() => {})));
        cleanupSync();
      },
    };
    return fleet;
  } catch (err) {
    cleanupSync();
    throw err;
  }
}

/** Child pids of a process, from /proc/<pid>/task/<pid>/children. */
function readChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Resolves true when a TCP connection to host:port succeeds within timeoutMs. */
function tcpOpen(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}
