// Keeps one run record current: task state changes, output tails, timings; saves it through the state
// store (coalesced, so a burst of changes is one write) and tells listeners (progress output).
import type { Clock, StateStore } from "../ports/index.js";
import type { RunRecord, RunState, TaskRecord } from "../model/index.js";
import { isFinal } from "../model/index.js";
import type { TaskSpec } from "../plan/tasks.js";

const OUTPUT_TAIL = 20;
const SAVE_DELAY_MS = 50;

/** A task with the spec it was made from (the spec is not persisted: it can hold secret values). */
export type LiveTask = TaskRecord & { spec: TaskSpec };

/** Records one run. `secrets` are values that must never reach a record (replaced by `(secret)`). */
export class RunRecorder {
  private readonly tasks: LiveTask[] = [];
  private timer: NodeJS.Timeout | null = null;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly run: RunRecord,
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly secrets: string[] = [],
    private readonly listener: (run: RunRecord, task: TaskRecord | null) => void = () => {},
  ) {}

  /** Adds tasks with IDs `<runId>.<n>` (1-based), all queued. */
  addTasks(specs: TaskSpec[]): LiveTask[] {
    const now = this.now();
    for (const spec of specs) {
      const id = `${this.run.id}.${this.tasks.length + 1}`;
      const task: LiveTask = {
        id, runId: this.run.id, kind: spec.kind, target: spec.target, app: spec.app, wave: spec.wave, keys: spec.keys,
        state: "queued", result: null, message: "", createdAt: now, startedAt: null, endedAt: null, output: [], spec,
      };
      this.tasks.push(task);
    }
    this.run.tasks = this.tasks.map(strip);
    this.scheduleSave();
    return this.tasks;
  }

  /** Marks the run running. */
  start(): void {
    this.run.state = "running";
    this.run.startedAt = this.now();
    this.scheduleSave();
    this.listener(this.run, null);
  }

  /** Applies a change to a task; sets start/end times on state changes. */
  update(task: LiveTask, change: Partial<Pick<TaskRecord, "state" | "result" | "message">>): void {
    if (change.state === "running" && !task.startedAt) task.startedAt = this.now();
    if (change.state && isFinal(change.state)) task.endedAt = this.now();
    Object.assign(task, change, change.message === undefined ? {} : { message: this.redact(change.message) });
    this.sync(task);
    this.listener(this.run, strip(task));
  }

  /** Appends a line to a task's output tail. */
  log(task: LiveTask, line: string): void {
    task.output.push(this.redact(line));
    if (task.output.length > OUTPUT_TAIL) task.output.splice(0, task.output.length - OUTPUT_TAIL);
    this.sync(task);
  }

  /** Ends the run: `failed` if any task failed, `cancelled` if interrupted, else `succeeded`; saved now. */
  async finish(interrupted: boolean, message?: string): Promise<RunRecord> {
    const states = this.tasks.map((t) => t.state);
    const state: RunState = states.includes("failed") ? "failed" : interrupted ? "cancelled" : "succeeded";
    const counts = (s: string) => states.filter((x) => x === s).length;
    this.run.state = state;
    this.run.endedAt = this.now();
    this.run.message = this.redact(message ?? `${counts("succeeded")} succeeded, ${counts("failed")} failed, ${counts("cancelled")} cancelled`);
    await this.flush();
    this.listener(this.run, null);
    return this.run;
  }

  /** Saves now and waits for it. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.run.tasks = this.tasks.map(strip);
    this.saving = this.saving.then(() => this.store.saveRun(structuredClone(this.run)));
    await this.saving;
  }

  private sync(task: LiveTask): void {
    const i = this.tasks.indexOf(task);
    if (i >= 0) this.run.tasks[i] = strip(task);
    this.scheduleSave();
  }

  private scheduleSave(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), SAVE_DELAY_MS);
  }

  private redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (s.length >= 4) out = out.split(s).join("(secret)");
    return out;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

function strip(task: LiveTask): TaskRecord {
  const { spec: _spec, ...record } = task;
  return { ...record, output: [...record.output], keys: [...record.keys] };
}
