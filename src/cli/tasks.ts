// `amphi tasks list|show ID|wait ID`: read runs and tasks from the state store. A run whose runner process died
// is marked abandoned (and saved so) when it is read: see reconcile/abandoned.ts.
import type { Command } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import { InputError, isFinal, type RunRecord, type TaskRecord } from "../model/index.js";
import { FileStateStore } from "../adapters/state/file-store.js";
import { alive } from "../adapters/state/file-lock.js";
import { hostname } from "node:os";
import { markAbandoned, type RunnerCheck } from "../reconcile/abandoned.js";
import { EXIT, pickFormat, runAction, type Io } from "./common.js";
import { formatRun, formatTask } from "./progress.js";

/** Registers `amphi tasks` and its subcommands on the program. */
export function tasksCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const tasks = program.command("tasks").description("list, show and wait for runs and their tasks");
  const store = (dir?: string) => new FileStateStore(resolve(io.cwd, dir ?? ".amphi"));
  tasks
    .command("list")
    .description("runs, newest first")
    .option("--env <env>", "only runs of this environment")
    .option("--limit <n>", "at most this many runs", "20")
    .option("--state-dir <dir>", "state directory (default: .amphi)")
    .option("--format <format>", "text | json", "text")
    .action(async (opts) => {
      setCode(await runAction(io, false, async () => {
        const format = pickFormat(opts.format, ["text", "json"] as const, "text");
        const s = store(opts.stateDir);
        const runs = await markAbandoned(s, await s.listRuns({ env: opts.env, limit: positive(opts.limit, "--limit") }), runnerCheck());
        io.out(format === "json" ? JSON.stringify(runs, null, 2) + "\n" : runs.map((r) => formatRun(r) + "\n").join("") || "no runs\n");
        return EXIT.ok;
      }));
    });
  tasks
    .command("show")
    .description("one run (with its tasks) or one task (with its output tail)")
    .argument("<id>", "run ID (r-…) or task ID (r-….N)")
    .option("--state-dir <dir>", "state directory (default: .amphi)")
    .option("--format <format>", "text | json", "text")
    .action(async (id, opts) => {
      setCode(await runAction(io, false, async () => {
        const format = pickFormat(opts.format, ["text", "json"] as const, "text");
        const found = await lookup(store(opts.stateDir), id);
        if (format === "json") io.out(JSON.stringify("task" in found ? found.task : found.run, null, 2) + "\n");
        else io.out("task" in found ? showTask(found.task) : showRun(found.run));
        return EXIT.ok;
      }));
    });
  tasks
    .command("wait")
    .description("wait until a run or task has finished; exit 0 if it succeeded, 1 otherwise")
    .argument("<id>", "run ID or task ID")
    .option("--timeout <seconds>", "give up after this long", "600")
    .option("--state-dir <dir>", "state directory (default: .amphi)")
    .action(async (id, opts) => {
      setCode(await runAction(io, false, () => wait(io, store(opts.stateDir), id, positive(opts.timeout, "--timeout") * 1000)));
    });
}

/** A positive number option, or an InputError naming the option. */
function positive(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${option} must be a positive number, not "${value}"`);
  return n;
}

type Found = { run: RunRecord } | { run: RunRecord; task: TaskRecord };

/** This machine, judging runners by their pid. */
function runnerCheck(): RunnerCheck {
  return { host: hostname(), alive, now: () => new Date().toISOString() };
}

// The run or task, with the run marked (and saved) abandoned when its runner died.
async function lookup(store: FileStateStore, id: string): Promise<Found> {
  const found = await find(store, id);
  const [run] = await markAbandoned(store, [found.run], runnerCheck());
  if (run === found.run) return found;
  const task = "task" in found ? run!.tasks.find((t) => t.id === found.task.id) : undefined;
  return task ? { run: run!, task } : { run: run! };
}

async function find(store: FileStateStore, id: string): Promise<Found> {
  const run = await store.getRun(id);
  if (run) return { run };
  const hit = await store.findTask(id);
  if (hit) return hit;
  throw new InputError(`no run or task "${id}" in ${store.dir}`);
}

function showRun(run: RunRecord): string {
  const head = `${formatRun(run)}\nsource ${run.source}\n${run.message ? run.message + "\n" : ""}`;
  return head + run.tasks.map((t) => `  ${formatTask(t)}\n`).join("");
}

function showTask(t: TaskRecord): string {
  const times = `created ${t.createdAt}  started ${t.startedAt ?? "-"}  ended ${t.endedAt ?? "-"}`;
  return `${formatTask(t)}\n${times}\nkeys ${t.keys.join(", ")}\n${t.output.map((l) => `| ${l}\n`).join("")}`;
}

// Polls the record; prints each task state change once. A runner process that died leaves a run that
// never ends: lookup marks it abandoned, which ends the wait (exit 1) instead of the timeout.
async function wait(io: Io, store: FileStateStore, id: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Map<string, string>();
  for (;;) {
    const found = await lookup(store, id);
    for (const t of found.run.tasks) {
      if (seen.get(t.id) !== t.state) io.err(`${formatTask(t)}\n`);
      seen.set(t.id, t.state);
    }
    const state = "task" in found ? found.task.state : found.run.state;
    if (isFinal(state)) {
      io.out(`${"task" in found ? found.task.id : found.run.id} ${state}${"task" in found ? "" : `: ${found.run.message}`}\n`);
      if (found.run.state === "abandoned") io.err(`amphi: its output until then may be in ${store.dir}/runs/${found.run.id}.log (--async runs)\n`);
      return state === "succeeded" ? EXIT.ok : EXIT.error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${id} (still ${state})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
