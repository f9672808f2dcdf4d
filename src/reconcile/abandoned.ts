// Runs whose runner died: a run record still `queued`/`running` whose process (recorded pid, on this machine)
// is gone will never end by itself. Whoever reads it (`amphi tasks list|show|wait`) marks it `abandoned`,
// naming the pid that died, and saves that: its running tasks become `abandoned` (they may have been cut
// anywhere), its queued ones `cancelled` (they never started).
import { isFinal, type RunRecord, type TaskRecord } from "../model/index.js";
import type { StateStore } from "../ports/index.js";

/** How runners are judged: this machine's hostname, a liveness check of a local pid, the time. */
export interface RunnerCheck {
  host: string;
  alive(pid: number): boolean;
  now(): string;
}

/** The run marked abandoned, or null when it is final, has no runner yet (an `--async` run not picked up),
 * runs on another machine (its pid means nothing here) or its runner is alive. */
export function abandonedRun(run: RunRecord, check: RunnerCheck): RunRecord | null {
  if (isFinal(run.state) || run.pid === null) return null;
  if ((run.host ?? check.host) !== check.host || check.alive(run.pid)) return null;
  const now = check.now();
  const who = `pid ${run.pid} on ${run.host ?? check.host}`;
  const tasks = run.tasks.map((t): TaskRecord => {
    if (t.state === "running") return { ...t, state: "abandoned", endedAt: now, message: `abandoned: its runner (${who}) died while it ran${t.message ? ` (last: ${t.message})` : ""}` };
    if (t.state === "queued") return { ...t, state: "cancelled", endedAt: now, message: `cancelled: its runner (${who}) died before it started` };
    return t;
  });
  return { ...run, state: "abandoned", endedAt: now, tasks, message: `abandoned: its runner (${who}) died${run.message ? ` (last: ${run.message})` : ""}` };
}

/** `runs` with every abandoned one marked and saved (see {@link abandonedRun}). */
export async function markAbandoned(store: StateStore, runs: RunRecord[], check: RunnerCheck): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  for (const run of runs) {
    const marked = abandonedRun(run, check);
    if (marked) await store.saveRun(marked);
    out.push(marked ?? run);
  }
  return out;
}
