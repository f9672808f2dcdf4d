// The host-side half of the host tasks: POSIX sh scripts in ./scripts, loaded once, run through a session
// as `sh -c SCRIPT amphi BASE APP ENV ARGS...`. Values travel only as arguments or on stdin; no value is
// ever put into script text, so nothing a config says can be run as shell code by accident.
import { readFileSync } from "node:fs";
import type { ExecResult } from "../ports/hosts.js";
import type { TaskContext } from "./task.js";

const read = (name: string): string => readFileSync(new URL(`scripts/${name}`, import.meta.url), "utf8");

/** Sets UID_NOW (no process where /proc is there): before lib.sh, and before capture-inspect, which runs without it. */
const UID = read("uid.sh");
// lib.sh's file-wide shellcheck directive must come before the first command, which is now uid.sh's: repeated here
const LIB = `# shellcheck disable=SC2015 # lib.sh: \`a && b || fail ...\` is meant\n${UID}\n${read("lib.sh")}`;

/** The task scripts by name (each runs after uid.sh and lib.sh, but for those run alone). */
export const SCRIPTS = {
  inspect: read("inspect.sh"),
  receive: read("receive.sh"),
  install: read("install.sh"),
  control: read("control.sh"),
  health: read("health.sh"),
  prune: read("prune.sh"),
  undeploy: read("undeploy.sh"),
  probe: read("probe.sh"),
  // The health reporter (reporter.ts runs it with the reporters' own base dir, not through runScript).
  reporter: read("reporter.sh"),
  // mesh-dns on capture hosts (mesh-dns.ts runs it with <baseDir>/mesh as the base dir, not through runScript).
  "mesh-dns": read("mesh-dns.sh"),
  // Capture rules (capture.ts runs these alone, as `sh -c SCRIPT amphi ARGS...`, without lib.sh).
  "capture-inspect": `${UID}\n${read("capture-inspect.sh")}`,
  "capture-apply": read("capture-apply.sh"),
  // The VM sidecar's readiness and drain (sidecar.ts runs it alone, without lib.sh).
  "sidecar-check": read("sidecar-check.sh"),
} as const;

/** Name of a task script. */
export type ScriptName = keyof typeof SCRIPTS;

/** The supervisor and launcher installed on hosts as `bin/amphi-supervise` and `bin/amphi-exec`
 * (trailing newline dropped: the host compares them with `$(cat file)`, which drops it too). */
export const SUPERVISE_SH = read("supervise.sh").trimEnd();
export const EXEC_SH = read("exec.sh").trimEnd();

/** The full text of a task script as run on the host (uid.sh and lib.sh first). */
export function scriptText(name: ScriptName): string {
  return `${LIB}\n${SCRIPTS[name]}`;
}

/** Runs a task script for `app` ("" for host-wide scripts) on the context's host. */
export function runScript(
  ctx: TaskContext,
  name: ScriptName,
  app: string,
  args: string[],
  opts: { stdin?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  const { session } = ctx;
  const argv = ["sh", "-c", scriptText(name), "amphi", session.host.baseDir, app, ctx.env, ...args];
  return session.exec(argv, { stdin: opts.stdin, timeoutMs: opts.timeoutMs, signal: ctx.signal });
}

/** `key=value` lines of a script's output (first `=` splits; later keys win; other lines ignored). */
export function fields(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0 && /^[a-z_]+$/.test(line.slice(0, eq))) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The `log: ` lines of a script's output (tails of app logs), without the prefix. */
export function logLines(stdout: string): string[] {
  return stdout.split("\n").flatMap((l) => (l.startsWith("log: ") ? [l.slice(5)] : []));
}

/** What a failed script said: its last stderr line (amphi's `amphi: ...` message), or its exit code. */
export function scriptError(r: ExecResult): string {
  const lines = r.stderr.trim().split("\n").filter(Boolean);
  const last = lines[lines.length - 1];
  return last ? last.replace(/^amphi: /, "") : `exit ${r.code}`;
}
