// Shared by the commit → applied benches: an `amphi serve --url file://<origin>` (in-process, the same `run`
// the executable calls) on the example's `local` environment, N one-app commits (billing's APP_VERSION),
// per-commit timings and p50/p90. Each bench supplies only how it learns that a commit was applied.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/cli/main.js";
import { exampleCopy } from "../../test/support/example-copy.js";
import { commitAll, initRepo, writeFiles } from "../../test/support/git-repo.js";
import { setBillingEnv } from "../../test/loop/support.js";

/** A finished run as `/v1/runs` shows it. */
export interface RunView {
  id: string;
  state: string;
  revision: string | null;
  startedAt: string | null;
  endedAt: string | null;
}

/** What a bench tells the harness. */
export interface LoopBench {
  name: string;
  /** `--interval` of serve. */
  interval: string;
  /** Waits until `sha` is applied and returns its run (`until` polls every 5 ms). */
  applied(url: string, sha: string, until: Until): Promise<RunView>;
  /** Pause between commits. */
  pauseMs(): number;
}

/** Polls `f` every 5 ms until it returns a value. */
export type Until = <T>(f: () => T | undefined | Promise<T | undefined>, what: string, ms?: number) => Promise<T>;

const FINAL = ["succeeded", "failed", "cancelled"];

/** Whether a run has ended. */
export function isDone(r: RunView): boolean {
  return FINAL.includes(r.state);
}

/** Runs the bench with `commits` commits and prints the figures. */
export async function runLoopBench(bench: LoopBench, commits: number): Promise<void> {
  const slug = bench.name.replace(/[^a-z0-9]+/gi, "-");
  const { dir: origin } = await exampleCopy(`amphi-bench-${slug}`);
  writeFiles(origin, { ".gitignore": ".amphi/\n" });
  await initRepo(origin);
  await commitAll(origin, "example config");
  const work = mkdtempSync(join(tmpdir(), `amphi-bench-${slug}-work-`));
  let log = "";
  const ac = new AbortController();
  const io = { out: () => {}, err: (t: string) => void (log += t), cwd: work, env: process.env };
  const served = run(["serve", "--url", `file://${origin}`, "--env", "local", "--listen", "127.0.0.1:0", "--interval", bench.interval], io, ac.signal);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const until: Until = async (f, what, ms = 60_000) => {
    const t0 = Date.now();
    for (;;) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}\n${log}`);
      await sleep(5);
    }
  };
  try {
    const url = await until(() => /serving local .* on (http:\/\/\S+)/.exec(log)?.[1], "serve to listen");
    await until(() => (/local applied \(start\)/.test(log) ? true : undefined), "the first apply");
    const rows: { total: number; run: number }[] = [];
    for (let i = 1; i <= commits; i++) {
      setBillingEnv(origin, `2.3.0-bench${i}`);
      const t0 = performance.now();
      const sha = await commitAll(origin, `billing: bench ${i}`);
      const t1 = performance.now();
      const done = await bench.applied(url, sha, until);
      const t2 = performance.now();
      if (done.state !== "succeeded" || done.revision !== sha) throw new Error(`run ${done.id} ${done.state} at ${done.revision}, expected ${sha}\n${log}`);
      const apply = Date.parse(done.endedAt!) - Date.parse(done.startedAt!);
      rows.push({ total: t2 - t0, run: apply });
      console.log(`commit ${String(i).padStart(2)}  commit→applied ${(t2 - t0).toFixed(0).padStart(5)} ms  (git commit ${(t1 - t0).toFixed(0)} ms, tasks ${apply} ms)`);
      await sleep(bench.pauseMs());
    }
    const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
    const totals = rows.map((r) => r.total);
    console.log(`\ncommit → applied on hosts (${bench.name}), ${commits} one-app commits: p50 ${q(totals, 0.5).toFixed(0)} ms, p90 ${q(totals, 0.9).toFixed(0)} ms, min ${Math.min(...totals).toFixed(0)} ms, max ${Math.max(...totals).toFixed(0)} ms (target p50 < 2000 ms)`);
    console.log(`tasks (deploy billing: upload, unpack, restart, health gate) p50 ${q(rows.map((r) => r.run), 0.5)} ms`);
  } finally {
    ac.abort();
    await served;
    await run(["demo", "--repo", origin, "--down"], io, new AbortController().signal);
    rmSync(origin, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
