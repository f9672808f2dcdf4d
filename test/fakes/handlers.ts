// Typed in-memory fakes for apply: a task handler that records calls and can be told to fail, a
// memory state store and a fixed clock.
import type { TaskHandler, TaskOutcome } from "../../src/ports/tasks.js";
import type { Clock, StateStore } from "../../src/ports/index.js";
import type { RunRecord, TaskRecord } from "../../src/model/index.js";
import type { TaskSpec } from "../../src/plan/tasks.js";

/** A handler that waits `delayMs`, records start/end, and fails tasks whose target+kind is in `fail`. */
export class FakeHandler implements TaskHandler {
  readonly calls: { id: string; target: string; kind: string; app: string | null; start: number; end: number }[] = [];
  active = 0;
  maxActive = 0;
  readonly fail = new Map<string, Error>();
  constructor(private readonly delayMs = 5) {}

  /** Makes tasks of `kind` on `target` fail with an error named `name` (TaskError or TransportError). */
  failOn(target: string, kind: string, name: "TaskError" | "TransportError", message = `${target}: boom`): this {
    const e = new Error(message);
    e.name = name;
    this.fail.set(`${target}|${kind}`, e);
    return this;
  }

  async run(task: TaskRecord & { spec: TaskSpec }, ctx: { signal: AbortSignal; log(line: string): void }): Promise<TaskOutcome> {
    const start = performance.now();
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      ctx.log(`working on ${task.target}`);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, this.delayMs);
        ctx.signal.addEventListener("abort", () => (clearTimeout(t), reject(new Error(`${task.target}: aborted`))), { once: true });
      });
      const err = this.fail.get(`${task.target}|${task.kind}`);
      if (err) throw err;
      return { result: "changed", message: `${task.kind} done` };
    } finally {
      this.active--;
      this.calls.push({ id: task.id, target: task.target, kind: task.kind, app: task.app, start, end: performance.now() });
    }
  }
}

/** A StateStore in memory (copies on save, like a real backend would). */
export class MemoryStateStore implements StateStore {
  readonly runs = new Map<string, RunRecord>();
  saves = 0;
  async saveRun(run: RunRecord): Promise<void> {
    this.saves++;
    this.runs.set(run.id, structuredClone(run));
  }
  async getRun(id: string): Promise<RunRecord | null> {
    return this.runs.get(id) ?? null;
  }
  async listRuns(): Promise<RunRecord[]> {
    return [...this.runs.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  }
  async findTask(id: string): Promise<{ run: RunRecord; task: TaskRecord } | null> {
    for (const run of this.runs.values()) {
      const task = run.tasks.find((t) => t.id === id);
      if (task) return { run, task };
    }
    return null;
  }
}

/** A clock that always says the same time. */
export const fixedClock: Clock = { now: () => new Date("2026-11-28T12:00:00Z") };
