// Progress of a run: one line per task state change (logs, CI, pipes), or a live view that redraws the
// task table in place when stderr is a terminal.
import type { RunRecord, TaskRecord } from "../model/index.js";

/** One line for a task, shared by progress output and `amphi tasks show`. */
export function formatTask(t: TaskRecord): string {
  const what = `${t.kind}${t.app ? ` ${t.app}` : ""}`;
  const result = t.state === "succeeded" && t.result ? ` (${t.result})` : "";
  const took = t.startedAt && t.endedAt ? ` ${((Date.parse(t.endedAt) - Date.parse(t.startedAt)) / 1000).toFixed(1)}s` : "";
  const msg = t.message ? `  ${t.message}` : "";
  return `${t.id.padEnd(30)} wave ${t.wave}  ${t.target.padEnd(20)} ${what.padEnd(22)} ${(t.state + result).padEnd(21)}${took}${msg}`;
}

/** A one-line summary of a run. */
export function formatRun(r: RunRecord): string {
  const counts = ["succeeded", "failed", "cancelled", "abandoned", "running", "queued"]
    .map((s) => [s, r.tasks.filter((t) => t.state === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
  return `${r.id}  ${r.env.padEnd(10)} ${r.state.padEnd(9)} ${r.createdAt}  ${r.tasks.length} tasks${counts ? ` (${counts})` : ""}${r.revision ? `  rev ${r.revision.slice(0, 12)}` : ""}`;
}

/** A listener for RunRecorder: prints task changes to `write`. `live` redraws a table in place. */
export function progressPrinter(write: (text: string) => void, live: boolean): (run: RunRecord, task: TaskRecord | null) => void {
  if (!live) {
    return (run, task) => {
      if (task) write(`${new Date().toISOString().slice(11, 19)} ${formatTask(task)}\n`);
      else if (run.state !== "queued") write(`${new Date().toISOString().slice(11, 19)} run ${run.id} ${run.state}${run.message ? `: ${run.message}` : ""}\n`);
    };
  }
  let drawn = 0;
  let last = 0;
  return (run, task) => {
    const final = task === null;
    if (!final && Date.now() - last < 100) return; // redraw at most 10 times a second
    last = Date.now();
    const lines = [`run ${run.id} ${run.state}`, ...run.tasks.map(formatTask)];
    const clear = drawn > 0 ? `\x1b[${drawn}A` : "";
    write(clear + lines.map((l) => `\x1b[2K${l}`).join("\n") + "\n");
    drawn = lines.length;
  };
}
