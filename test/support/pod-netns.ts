// Stand-in pods: a Linux network namespace per pod, optionally with a veth into a test fleet's bridge
// (test/support/netns-hosts.ts), so pods and the fleet's sshd hosts reach each other. No kubelet, no container
// runtime: what a pod's network namespace gets from amphi is its init container, and that is applied here as
// rendered — the init container's command and args from the rendered Deployment, run in the namespace with the
// real program (Debian's iptables-nft-restore, the program of the default init image), as root with only the
// capabilities its securityContext adds (setpriv drops the rest from the bounding set), reading the files of the
// rendered ConfigMap. The one liberty: the ConfigMap's files are written to a temp dir, and every argument that
// starts with the volume's mount path is pointed there (the machine's /etc is not ours to mount over).
//
//   controller namespace of the fleet: br0 ── p<k> (veth) ── eth0 in the pod namespace, address from the top
//   of the fleet's subnet (hosts count up from .10), default route via the bridge (like a pod's via its node;
//   nothing forwards there, so it leads nowhere).
//
// Names carry the pid and a random suffix; cleanup kills what runs in the namespace (all of it started here)
// and deletes it; an exit hook does the same if a test forgets.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { K8sObject } from "../../src/model/index.js";
import type { ExecResult, TestFleet } from "./netns-hosts.js";

const SBIN_PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;
const childEnv = { ...process.env, PATH: SBIN_PATH, LC_ALL: "C" };

/** A uid/gid to run a process as (setpriv, supplementary groups cleared). */
export interface RunAs {
  uid: number;
  gid?: number;
}

/** One stand-in pod. */
export interface StandInPod {
  /** Network namespace name (for `ip netns exec`). */
  netns: string;
  /** Its address on the fleet's bridge, or null without a fleet (loopback only). */
  address: string | null;
  /** Runs a command in the namespace (as root, or `as`), collects its output; never rejects on a non-zero exit. */
  exec(argv: string[], opts?: { as?: RunAs; input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running process in the namespace (as root, or `as`); killed by cleanup at the latest. */
  start(argv: string[], opts?: { as?: RunAs }): ChildProcess;
  /** Applies the rendered init containers of `deployment` (each one's command and args, with `configMap`'s
   * files at its volume mount path) in order, like the kubelet before the pod's containers start. Stops at
   * the first that fails and returns its result. */
  applyInit(deployment: K8sObject, configMap: K8sObject): Promise<ExecResult>;
  /** `iptables-save` (the nft backend, as applied) of the namespace. */
  iptablesSave(): Promise<string>;
  /** Kills every process in the namespace, deletes it and its temp dir. Idempotent. */
  cleanup(): Promise<void>;
}

/** Options of startPod. */
export interface PodOptions {
  /** Connect the pod to this fleet's bridge. Without it the pod has loopback only. */
  fleet?: TestFleet;
}

interface InitContainer {
  name: string;
  command?: string[];
  args?: string[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: { runAsUser?: number; capabilities?: { add?: string[] } };
}

const live = new Set<() => void>();
let hooked = false;
/** Pods per fleet (by controller namespace), for addresses and link names. */
const podsPerFleet = new Map<string, number>();

/** Creates a stand-in pod namespace (see the top of this file). */
export async function startPod(opts: PodOptions = {}): Promise<StandInPod> {
  const netns = `amphi-${process.pid}-${randomBytes(3).toString("hex")}-pod`;
  const tmp = mkdtempSync(join(tmpdir(), `amphi-pod-${process.pid}-`));
  const children = new Set<ChildProcess>();
  let cleaned = false;
  const cleanupSync = () => {
    if (cleaned) return;
    cleaned = true;
    live.delete(cleanupSync);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    const pids = spawnSync("ip", ["netns", "pids", netns], { env: childEnv, encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone already
      }
    }
    spawnSync("ip", ["netns", "del", netns], { env: childEnv, stdio: "ignore" });
    rmSync(tmp, { recursive: true, force: true });
  };
  live.add(cleanupSync);
  installExitHook();

  try {
    await must("ip", ["netns", "add", netns]);
    await must("ip", ["-n", netns, "link", "set", "lo", "up"]);
    const address = opts.fleet ? await attach(opts.fleet, netns) : null;
    const exec: StandInPod["exec"] = (argv, o = {}) => run("ip", ["netns", "exec", netns, ...asUser(o.as), ...argv], o.input, o.timeoutMs);
    return {
      netns,
      address,
      exec,
      start: (argv, o = {}) => {
        const child = spawn("ip", ["netns", "exec", netns, ...asUser(o.as), ...argv], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
        children.add(child);
        child.on("exit", () => children.delete(child));
        return child;
      },
      applyInit: async (deployment, configMap) => {
        const dir = mkdtempSync(join(tmp, "cm-"));
        const data = ((configMap as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
        for (const [file, text] of Object.entries(data)) writeFileSync(join(dir, file), text);
        for (const c of initContainers(deployment)) {
          const r = await exec([...boundingSet(c), ...withMounts(c, dir)]);
          if (r.code !== 0) return { ...r, stderr: `init container ${c.name}: ${r.stderr}` };
        }
        return { code: 0, stdout: "", stderr: "" };
      },
      iptablesSave: async () => (await mustIn(exec, ["iptables-nft-save"])).stdout,
      cleanup: async () => cleanupSync(),
    };
  } catch (err) {
    cleanupSync();
    throw err;
  }
}

/** A veth from the fleet's bridge into the pod; returns the pod's address. */
async function attach(fleet: TestFleet, netns: string): Promise<string> {
  const k = podsPerFleet.get(fleet.controllerNetns) ?? 0;
  podsPerFleet.set(fleet.controllerNetns, k + 1);
  const [base, bits] = fleet.subnet.split("/") as [string, string];
  const size = 2 ** (32 - Number(bits));
  const address = intToIp(ipToInt(base) + size - 2 - k);
  if (fleet.hosts.some((h) => h.address === address)) throw new Error(`no address left for a pod in ${fleet.subnet}`);
  await must("ip", ["-n", fleet.controllerNetns, "-batch", "-"], {
    input: [`link add name p${k} type veth peer name eth0 netns ${netns}`, `link set p${k} master br0`, `link set p${k} up`, ""].join("\n"),
  });
  await must("ip", ["-n", netns, "-batch", "-"], {
    input: [`addr add ${address}/${bits} dev eth0`, "link set eth0 up", `route add default via ${fleet.controllerAddress}`, ""].join("\n"),
  });
  return address;
}

function initContainers(deployment: K8sObject): InitContainer[] {
  const spec = (deployment as { spec?: { template?: { spec?: { initContainers?: InitContainer[] } } } }).spec?.template?.spec;
  return spec?.initContainers ?? [];
}

/** The container's command and args, arguments under a volume mount path pointed at `dir`. */
function withMounts(c: InitContainer, dir: string): string[] {
  if (!c.command || c.command.length === 0) throw new Error(`init container ${c.name}: no command (the image's entrypoint cannot be run here)`);
  const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath.replace(/\/$/, ""));
  return [...c.command, ...(c.args ?? [])].map((a) => {
    const m = mounts.find((p) => a === p || a.startsWith(`${p}/`));
    return m === undefined ? a : dir + a.slice(m.length);
  });
}

/** setpriv for the container's securityContext: its uid, and only the capabilities it adds in the bounding set
 * (the rendered containers drop ALL and add what they need). */
function boundingSet(c: InitContainer): string[] {
  const sc = c.securityContext ?? {};
  const caps = (sc.capabilities?.add ?? []).map((x) => `+${x.toLowerCase()}`);
  const uid = String(sc.runAsUser ?? 0);
  return ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--bounding-set", ["-all", ...caps].join(","), "--"];
}

function asUser(as: RunAs | undefined): string[] {
  return as ? ["setpriv", "--reuid", String(as.uid), "--regid", String(as.gid ?? as.uid), "--clear-groups", "--"] : [];
}

function run(cmd: string, args: string[], input?: string, timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

async function must(cmd: string, args: string[], o: { input?: string } = {}): Promise<ExecResult> {
  const r = await run(cmd, args, o.input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

async function mustIn(exec: StandInPod["exec"], argv: string[]): Promise<ExecResult> {
  const r = await exec(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of [...live]) c();
  });
}
