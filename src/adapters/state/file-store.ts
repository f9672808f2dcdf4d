// The file backend of the state store: one JSON file per run under `<dir>/runs/`, replaced atomically
// (temp file + rename) on every change, so `amphi tasks wait` in another process never reads half a record.
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newestFirst, type RunRecord, type TaskRecord } from "../../model/index.js";
import type { StateStore } from "../../ports/index.js";

const RUN_ID = /^r-[0-9A-Za-z-]+$/;

/** A StateStore in a directory (default `.amphi`). */
export class FileStateStore implements StateStore {
  private readonly runsDir: string;

  constructor(readonly dir: string) {
    this.runsDir = join(dir, "runs");
  }

  /** Writes the run record atomically. */
  async saveRun(run: RunRecord): Promise<void> {
    this.saveRunSync(run);
  }

  /** Synchronous save, for the last write on the way out of a signal handler. */
  saveRunSync(run: RunRecord): void {
    mkdirSync(this.runsDir, { recursive: true });
    const file = join(this.runsDir, `${run.id}.json`);
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(run, null, 2) + "\n");
    renameSync(tmp, file);
  }

  /** The run, or null when there is none with that ID. */
  async getRun(id: string): Promise<RunRecord | null> {
    if (!RUN_ID.test(id)) return null;
    try {
      return JSON.parse(readFileSync(join(this.runsDir, `${id}.json`), "utf8")) as RunRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new Error(`run record ${join(this.runsDir, `${id}.json`)} is unreadable: ${(e as Error).message}`);
    }
  }

  /** Runs, newest first (by creation time to the millisecond, then ID). */
  async listRuns(opts: { env?: string; limit?: number } = {}): Promise<RunRecord[]> {
    let names: string[];
    try {
      names = readdirSync(this.runsDir).filter((n) => n.endsWith(".json"));
    } catch {
      return [];
    }
    const runs: RunRecord[] = [];
    for (const name of names) {
      const run = await this.getRun(name.slice(0, -5));
      if (run && (!opts.env || run.env === opts.env)) runs.push(run);
    }
    runs.sort(newestFirst);
    return opts.limit ? runs.slice(0, opts.limit) : runs;
  }

  /** The run and task for a task ID (`<runId>.<n>`). */
  async findTask(taskId: string): Promise<{ run: RunRecord; task: TaskRecord } | null> {
    const runId = taskId.replace(/\.\d+$/, "");
    const run = await this.getRun(runId);
    const task = run?.tasks.find((t) => t.id === taskId);
    return run && task ? { run, task } : null;
  }
}
