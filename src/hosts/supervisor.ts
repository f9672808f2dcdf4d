// Running an app on a host: the control script (start, stop, switch, roll back, through systemd or amphi's
// sh supervisor, whichever the host has) and the health gate that decides whether a start worked.
import type { HostStateFile } from "../model/index.js";
import { TaskError } from "./errors.js";
import { STATE_WRITE_SH, stateFileText, stateWriteError } from "./state-file.js";
import { EXEC_SH, fields, logLines, runScript, scriptError, SUPERVISE_SH } from "./scripts.js";
import { systemdUnit } from "./systemd.js";
import { seconds, type TaskContext } from "./task.js";

/** A control action and its arguments (see scripts/control.sh). */
export type ControlAction =
  | ["start"]
  | ["stop"]
  | ["restart"]
  | ["activate", release: string]
  | ["rollback", target: string, failed: string, start: "1" | "0"];

/** Runs one control action for `app`; returns its `key=value` output. Throws TaskError (`subject: cause`).
 * `record` (activate only) is written as state.json in the same round trip before anything changes; when that
 * write fails nothing else happened, and the error is a StateWriteError. */
export async function control(
  ctx: TaskContext,
  subject: string,
  app: string,
  action: ControlAction,
  stopGraceMs: number,
  record?: HostStateFile,
): Promise<Record<string, string>> {
  const unit = systemdUnit({ env: ctx.env, app, baseDir: ctx.session.host.baseDir, stopGraceMs }).trimEnd();
  const grace = seconds(stopGraceMs);
  const text = record && action[0] === "activate" ? stateFileText(record) : undefined;
  const write = text === undefined ? [] : [String(Buffer.byteLength(text)), STATE_WRITE_SH];
  const r = await runScript(ctx, "control", app, [action[0], String(grace), unit, SUPERVISE_SH, EXEC_SH, ...action.slice(1), ...write], {
    stdin: text,
    // a stop may wait grace + 5 s for the supervisor, then grace + 5 s for a stray app
    timeoutMs: (2 * grace + 30) * 1000,
  });
  if (text !== undefined && r.code === 5) throw stateWriteError(ctx.session.host, r.stderr, r.code);
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `${subject}: ${action[0]} failed: ${scriptError(r)}`);
  return fields(r.stdout);
}

/** How a health gate ended. */
export type GateResult = { ok: true; detail: string } | { ok: false; cause: string };

/** Waits until the app started as `pid` answers its health URL with 2xx/3xx (or, without a health check,
 * has stayed up for a second), then checks that the processes listening on its ports are the app's (its
 * pid, descendants, process group): a process that held the port first would otherwise answer for it.
 * The cause of a failure reads like `health check http://…/health failed after 10s (503)` or `port 9100
 * is held by pid 4242 (python3 -m http.server 9100), not by billing (pid 4300)`; the app's last log lines
 * go to ctx.log. */
export async function healthGate(ctx: TaskContext, app: string, pid: string, timeoutMs: number): Promise<GateResult> {
  if (!pid) return { ok: false, cause: `process did not start (see logs/${app}.log)` };
  const t0 = performance.now();
  const r = await runScript(ctx, "health", app, [pid, String(seconds(timeoutMs))], { timeoutMs: timeoutMs + 30_000 });
  const elapsed = ((performance.now() - t0) / 1000).toFixed(1);
  for (const line of logLines(r.stdout)) ctx.log(`${app} log: ${line}`);
  const f = fields(r.stdout);
  if (r.code !== 0) return { ok: false, cause: `health check failed: ${scriptError(r)}` };
  switch (f.result) {
    case "ok":
      return { ok: true, detail: `${f.url ? `healthy after ${elapsed}s` : `up for ${elapsed}s`}${f.ports === "unchecked" ? "; who listens on its ports not checked (no /proc/net/tcp)" : ""}` };
    case "timeout":
      return { ok: false, cause: `health check ${f.url} failed after ${seconds(timeoutMs)}s (${f.code === "000" ? "no answer" : f.code})` };
    case "exited": {
      const status = (f.status ?? "").split(" ")[0];
      return { ok: false, cause: `process exited during the health check${status ? ` (status ${status})` : ""}; see logs/${app}.log` };
    }
    case "foreign":
      return { ok: false, cause: `port ${f.port} is held by pid ${f.holder} (${f.holder_cmd || "command unknown"}), not by ${app} (pid ${f.app_pid || pid})` };
    case "hidden":
      return {
        ok: false,
        cause: `port ${f.port} is held by a process of uid ${f.holder_uid} that user ${f.login} cannot inspect (/proc/<pid>/fd not readable), so it cannot be told apart from ${app} (pid ${f.app_pid || pid})`,
      };
    case "noclient":
      return { ok: false, cause: `cannot check ${f.url}: no curl, wget, node or python3 on the host` };
    default:
      return { ok: false, cause: `health check gave no result (${r.stdout.trim().split("\n").pop() ?? ""})` };
  }
}
