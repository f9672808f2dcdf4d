// Stand-in pods: a Linux network namespace per pod, optionally with a veth into a test fleet's bridge
// (test/support/netns-hosts.ts), so pods and the fleet's sshd hosts reach each other. No kubelet, no container
// runtime: what a pod's network namespace gets from amphi is its init container, and that is applied here as
// rendered — the init container's command and args from the rendered Deployment, run in the namespace with the
// real program (Debian's iptables-nft-restore, the program of the default init image), as root with only the
// capabilities its securityContext adds (setpriv drops the rest from the bounding set), reading the files of the
// rendered ConfigMap. The one liberty: the ConfigMap's files are written to a temp dir, and every argument that
// starts with the volume's mount path is pointed there (the machine's /etc is not ours to mount over).
// The pod's other containers start the same way (startContainer), with a binary standing in for the image's
// entrypoint: e.g. `amphi-proxy` with an Envoy (or the Envoy test double) on the rendered bootstrap, as the proxy uid.
//
//   controller namespace of the fleet: br0 ── p<k> (veth) ── eth0 in the pod namespace, address from the top
//   of the fleet's subnet (hosts count up from .10), default route via the bridge (like a pod's via its node;
//   nothing forwards there, so it leads nowhere).
//
// Names carry the pid and a random suffix; cleanup kills what runs in the namespace (all of it started here)
// and deletes it; an exit hook does the same if a test forgets (after a kill by a signal,
// test/support/netns/reap-stale-fleets.sh --delete removes what is left, pods included).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { K8sObject } from "../../src/model/index.js";
import { inNetns, intToIp, ipToInt, run, splitArgv, type ExecResult, type TestFleet } from "./netns-hosts.js";
import { spawnSync } from "./spawn.js";

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
  /** Starts container `name` of `deployment` as rendered, with `binary` standing in for its image's entrypoint
   * (e.g. an Envoy binary, or the Envoy test double, for `amphi-proxy`): its args with `$(VAR)` expanded from its
   * env (`valueFrom.fieldRef` metadata.name → `podName`, metadata.namespace → `namespace`), `configMap`'s files
   * at its volume mount path, its env, as its securityContext's runAsUser/runAsGroup. Killed by cleanup. */
  startContainer(deployment: K8sObject, configMap: K8sObject, name: string, opts: { binary: string[]; podName: string; namespace?: string }): ChildProcess;
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

interface RenderedContainer {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: { runAsUser?: number; runAsGroup?: number; capabilities?: { add?: string[] } };
}

const live = new Set<() => void>();
let hooked = false;
/** Pods per fleet (by controller namespace), for addresses and link names. */
const podsPerFleet = new Map<string, number>();

/** Creates a stand-in pod namespace (see the top of this file). */
export async function startPod(opts: PodOptions = {}): Promise<StandInPod> {
  const netns = `amphi-${process.pid}-${randomBytes(3).toString("hex")}-pod`;
  const tmp = mkdtempSync(join(tmpdir(), `amphi-pod-${process.pid}-`));
  chmodSync(tmp, 0o755); // containers run as other uids and read the ConfigMap files under it
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
    spawnSync("ip", ["netns", "del", netns], { env: childEnv });
    rmSync(tmp, { recursive: true, force: true });
  };
  live.add(cleanupSync);
  installExitHook();

  try {
    await must("ip", ["netns", "add", netns]);
    await must("ip", ["-n", netns, "link", "set", "lo", "up"]);
    const address = opts.fleet ? await attach(opts.fleet, netns) : null;
    /** Runs argv in the pod (its netns, as `o.as`), collecting output. */
    const exec: StandInPod["exec"] = (argv, o = {}) => run(...splitArgv([...inNetns(netns), ...asUser(o.as), ...argv]), { ...(o.input !== undefined ? { input: o.input } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
    const start: StandInPod["start"] = (argv, o = {}) => {
      const child = spawn(...splitArgv([...inNetns(netns), ...asUser(o.as), ...argv]), { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
      children.add(child);
      child.on("exit", () => children.delete(child));
      return child;
    };
    const configDir = (configMap: K8sObject) => {
      const dir = mkdtempSync(join(tmp, "cm-"));
      chmodSync(dir, 0o755);
      const data = ((configMap as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
      for (const [file, text] of Object.entries(data)) writeFileSync(join(dir, file), text, { mode: 0o644 });
      return dir;
    };
    return {
      netns,
      address,
      exec,
      start,
      applyInit: async (deployment, configMap) => {
        const dir = configDir(configMap);
        for (const c of podContainers(deployment, "initContainers")) {
          if (!c.command || c.command.length === 0) throw new Error(`init container ${c.name}: no command (the image's entrypoint cannot be run here)`);
          const r = await exec([...boundingSet(c), ...withMounts([...c.command, ...(c.args ?? [])], c, dir)]);
          if (r.code !== 0) return { ...r, stderr: `init container ${c.name}: ${r.stderr}` };
        }
        return { code: 0, stdout: "", stderr: "" };
      },
      startContainer: (deployment, configMap, name, o) => {
        const c = podContainers(deployment, "containers").find((x) => x.name === name);
        if (!c) throw new Error(`no container ${name} in the rendered Deployment`);
        const vars = containerEnv(c, o.podName, o.namespace ?? "default");
        const args = (c.args ?? []).map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, v: string) => vars.get(v) ?? whole));
        const uid = c.securityContext?.runAsUser;
        const as = uid === undefined ? undefined : { uid, gid: c.securityContext?.runAsGroup ?? uid };
        const env = [...vars].map(([k, v]) => `${k}=${v}`);
        return start(["env", ...env, ...o.binary, ...withMounts(args, c, configDir(configMap))], as ? { as } : {});
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

function podContainers(deployment: K8sObject, list: "containers" | "initContainers"): RenderedContainer[] {
  const spec = (deployment as { spec?: { template?: { spec?: Record<string, RenderedContainer[] | undefined> } } }).spec?.template?.spec;
  return spec?.[list] ?? [];
}

/** The container's env as the kubelet would set it (the fieldRefs amphi renders: the pod's name and namespace). */
function containerEnv(c: RenderedContainer, podName: string, namespace: string): Map<string, string> {
  const fields: Record<string, string> = { "metadata.name": podName, "metadata.namespace": namespace };
  const out = new Map<string, string>();
  for (const e of c.env ?? []) {
    const value = e.value ?? (e.valueFrom?.fieldRef ? fields[e.valueFrom.fieldRef.fieldPath] : undefined);
    if (value === undefined) throw new Error(`container ${c.name}: env ${e.name} comes from something a stand-in pod cannot give`);
    out.set(e.name, value);
  }
  return out;
}

/** `argv` with every argument under one of the container's volume mount paths pointed at `dir`. */
function withMounts(argv: string[], c: RenderedContainer, dir: string): string[] {
  const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath.replace(/\/$/, ""));
  return argv.map((a) => {
    const m = mounts.find((p) => a === p || a.startsWith(`${p}/`));
    return m === undefined ? a : dir + a.slice(m.length);
  });
}

/** setpriv for the container's securityContext: its uid, and only the capabilities it adds in the bounding set
 * (the rendered containers drop ALL and add what they need). */
function boundingSet(c: RenderedContainer): string[] {
  const sc = c.securityContext ?? {};
  const caps = (sc.capabilities?.add ?? []).map((x) => `+${x.toLowerCase()}`);
  const uid = String(sc.runAsUser ?? 0);
  return ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--bounding-set", ["-all", ...caps].join(","), "--"];
}

function asUser(as: RunAs | undefined): string[] {
  return as ? ["setpriv", "--reuid", String(as.uid), "--regid", String(as.gid ?? as.uid), "--clear-groups", "--"] : [];
}

async function must(cmd: string, args: string[], o: { input?: string } = {}): Promise<ExecResult> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

async function mustIn(exec: StandInPod["exec"], argv: string[]): Promise<ExecResult> {
  const r = await exec(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of [...live]) c();
  });
}
