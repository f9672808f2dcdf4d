// commit → applied on hosts, by polling: `amphi serve --url file://<origin> --interval 1s` (in-process, the
// same `run` the executable calls) serves the example's `local` environment with no webhook; for each of N
// commits that change one app (billing's APP_VERSION), the bench commits and polls `/v1/runs` until a run
// of that commit has succeeded (an interval cycle that applies records one). Prints per-commit times and
// p50/p90. Usage:
//   node --import tsx bench/loop/poll.ts [commits=10]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/cli/main.js";
import { exampleCopy } from "../../test/support/example-copy.js";
import { commitAll, initRepo, writeFiles } from "../../test/support/git-repo.js";
import { setBillingEnv } from "../../test/loop/support.js";

const N = Number(process.argv[2] ?? 10);
const { dir: origin } = await exampleCopy("amphi-bench-poll");
writeFiles(origin, { ".gitignore": ".amphi/\n" });
await initRepo(origin);
await commitAll(origin, "example config");
const work = mkdtempSync(join(tmpdir(), "amphi-bench-poll-work-"));
let log = "";
const ac = new AbortController();
const io = { out: () => {}, err: (t: string) => void (log += t), cwd: work, env: process.env };
const served = run(["serve", "--url", `file://${origin}`, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1s"], io, ac.signal);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(f: () => T | undefined | Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}\n${log}`);
    await sleep(5);
  }
}

try {
  const url = await until(() => /serving local .* on (http:\/\/\S+)/.exec(log)?.[1], "serve to listen");
  await until(() => (/local applied \(start\)/.test(log) ? true : undefined), "the first apply");
  const rows: { total: number; commit: number; run: number }[] = [];
  for (let i = 1; i <= N; i++) {
    setBillingEnv(origin, `2.3.0-bench${i}`);
    const t0 = performance.now();
    const sha = await commitAll(origin, `billing: bench ${i}`);
    const t1 = performance.now();
    const done = await until(async () => {
      const runs = (await (await fetch(`${url}/v1/runs?env=local&limit=5`)).json()) as { id: string; state: string; revision: string | null; startedAt: string | null; endedAt: string | null }[];
      return runs.find((r) => r.revision === sha && ["succeeded", "failed", "cancelled"].includes(r.state));
    }, `a run of ${sha}`);
    const id = done.id;
    const t2 = performance.now();
    if (done.state !== "succeeded" || done.revision !== sha) throw new Error(`run ${id} ${done.state} at ${done.revision}, expected ${sha}\n${log}`);
    const apply = Date.parse(done.endedAt!) - Date.parse(done.startedAt!);
    rows.push({ total: t2 - t0, commit: t1 - t0, run: apply });
    console.log(`commit ${String(i).padStart(2)}  commit→applied ${(t2 - t0).toFixed(0).padStart(5)} ms  (git commit ${(t1 - t0).toFixed(0)} ms, tasks ${apply} ms)`);
    // Land the next commit at a random point of the interval, as a real push would.
    await sleep(200 + Math.random() * 1000);
  }
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const totals = rows.map((r) => r.total);
  console.log(`\ncommit → applied on hosts (polling, --interval 1s), ${N} one-app commits: p50 ${q(totals, 0.5).toFixed(0)} ms, p90 ${q(totals, 0.9).toFixed(0)} ms, min ${Math.min(...totals).toFixed(0)} ms, max ${Math.max(...totals).toFixed(0)} ms `);
  console.log(`tasks (deploy billing: upload, unpack, restart, health gate) p50 ${q(rows.map((r) => r.run), 0.5)} ms`);
} finally {
  ac.abort();
  await served;
  await run(["demo", "--repo", origin, "--down"], { ...io, cwd: work }, new AbortController().signal);
  rmSync(origin, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
