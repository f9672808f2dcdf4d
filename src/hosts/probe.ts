// The probe task: the host's half of the actual state in one round trip.
import type { HostStateFile } from "../model/index.js";
import type { HostSession } from "../ports/hosts.js";
import { TaskError } from "./errors.js";
import { runScript, scriptError } from "./scripts.js";
import { readHostState, STATE_DUMP_SH } from "./state-file.js";
import type { TaskContext } from "./task.js";

/** What a probe saw: state.json, whether each app's process runs, and its health check's answer. */
export interface HostProbe {
  state: HostStateFile;
  /** Every app with a record or a directory on the host. */
  processes: Record<string, "running" | "stopped">;
  /** `none`: the app has no health check; `failing`: no 2xx/3xx within 1 s, or not running. */
  health: Record<string, "ok" | "failing" | "none">;
  /** The release `current` points at, for every app directory that has one. */
  current: Record<string, string>;
  /** Whether `<baseDir>/sidecar` (the VM sidecar's base dir) exists; unset when not known. False: the sidecar's
   * own probe would find nothing there, so readers skip that round trip. */
  sidecarDir?: boolean;
  /** When it exists: what probe.sh printed for the sidecar's base dir in the same round trip, for the sidecar's
   * reader to parse as its probe (parseProbe with the sidecar's context) instead of asking again. */
  sidecarOutput?: string;
}

/** Reads state.json (or its backup, warning through ctx.log: see readHostState), process liveness
 * (supervisor pidfiles + kill -0, or systemd) and health in one command. */
export async function probe(ctx: TaskContext): Promise<HostProbe> {
  const r = await runScript(ctx, "probe", "", [STATE_DUMP_SH], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `probe failed: ${scriptError(r)}`);
  return parseProbe(ctx, r.stdout);
}

/** A probe's answer (probe.sh's output) read on the context's host: state.json checked as readHostState checks it. */
export async function parseProbe(ctx: TaskContext, stdout: string): Promise<HostProbe> {
  let lines = stdout.split("\n");
  // The sidecar's own probe, between its markers, comes before the host's `state` line.
  const begin = lines.indexOf("sidecar-begin");
  const end = begin < 0 ? -1 : lines.indexOf("sidecar-end", begin);
  let sidecarOutput: string | undefined;
  if (begin >= 0 && end > begin) {
    sidecarOutput = lines.slice(begin + 1, end).join("\n");
    lines = [...lines.slice(0, begin), ...lines.slice(end + 1)];
  }
  const cut = lines.indexOf("state");
  const head = cut < 0 ? lines : lines.slice(0, cut);
  const state = await readHostState(replay(ctx.session, cut < 0 ? "" : lines.slice(cut + 1).join("\n")), ctx.env, ctx.now(), ctx.log);
  const processes: HostProbe["processes"] = {};
  const health: HostProbe["health"] = {};
  const current: HostProbe["current"] = {};
  let sidecarDir: boolean | undefined;
  const recorded = { ...state.pending, ...state.apps };
  for (const [app, rec] of Object.entries(recorded)) {
    processes[app] = "stopped";
    health[app] = rec.instance.health ? "failing" : "none";
  }
  for (const line of head) {
    const [tag, app, proc, h, release] = line.split(" ");
    if (tag === "sidecar") sidecarDir = app === "present";
    if (tag !== "app" || !app) continue;
    processes[app] = proc === "running" ? "running" : "stopped";
    health[app] = h === "ok" ? "ok" : h === "failing" ? "failing" : "none";
    if (release && release !== "-") current[app] = release;
  }
  const out: HostProbe = { state, processes: sortByKey(processes), health: sortByKey(health), current: sortByKey(current) };
  if (sidecarDir !== undefined) out.sidecarDir = sidecarDir;
  if (sidecarOutput !== undefined) out.sidecarOutput = sidecarOutput;
  return out;
}

/** A session that answers state-file.ts's one read with text already fetched, so the probe parses and
 * checks state.json exactly as readHostState does without a second round trip. */
function replay(session: HostSession, dump: string): HostSession {
  return {
    host: session.host,
    exec: async () => ({ code: 0, stdout: dump, stderr: "" }),
    putFile: async () => {
      throw new Error("replay session: read only");
    },
    close: async () => {},
  };
}

function sortByKey<T>(rec: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(rec).sort().map((k) => [k, rec[k] as T]));
}
