// commit → applied on hosts, through a webhook: `amphi serve --url file://<origin>` (in-process, the same
// `run` the executable calls) serves the example's `local` environment; for each of N commits that change
// one app (billing's APP_VERSION), the bench commits, POSTs a GitHub push hook at once and polls the run
// until it has succeeded. Prints per-commit times and p50/p90. Usage:
//   node --import tsx bench/loop/webhook.ts [commits=10]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/cli/main.js";
import { exampleCopy } from "../../test/support/example-copy.js";
import { commitAll, initRepo, writeFiles } from "../../test/support/git-repo.js";
import { setBillingEnv } from "../../test/loop/support.js";

const N = Number(process.argv[2] ?? 10);
const { dir: origin } = await exampleCopy("amphi-bench-loop");
writeFiles(origin, { ".gitignore": ".amphi/\n" });
await initRepo(origin);
await commitAll(origin, "example config");
const work = mkdtempSync(join(tmpdir(), "amphi-bench-loop-work-"));
let log = "";
const ac = new AbortController();
const io = { out: () => {}, err: (t: string) => void (log += t), cwd: work, env: process.env };
const served = run(["serve", "--url", `file://${origin}`, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h"], io, ac.signal);

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
    const body = JSON.stringify({ ref: "refs/heads/main", after: sha });
    const hook = await fetch(`${url}/v1/hooks/git`, { method: "POST", headers: { "X-GitHub-Event": "push", "Content-Type": "application/json" }, body });
    const { runs } = (await hook.json()) as { runs: { id: string }[] };
    const id = runs[0]!.id;
    const done = await until(async () => {
      const r = (await (await fetch(`${url}/v1/runs/${id}`)).json()) as { state: string; revision: string | null; startedAt: string | null; endedAt: string | null };
      return ["succeeded", "failed", "cancelled"].includes(r.state) ? r : undefined;
    }, `run ${id}`);
    const t2 = performance.now();
    if (done.state !== "succeeded" || done.revision !== sha) throw new Error(`run ${id} ${done.state} at ${done.revision}, expected ${sha}\n${log}`);
    const apply = Date.parse(done.endedAt!) - Date.parse(done.startedAt!);
    rows.push({ total: t2 - t0, commit: t1 - t0, run: apply });
    console.log(`commit ${String(i).padStart(2)}  commit→applied ${(t2 - t0).toFixed(0).padStart(5)} ms  (git commit ${(t1 - t0).toFixed(0)} ms, tasks ${apply} ms)`);
    await sleep(200);
  }
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const totals = rows.map((r) => r.total);
  console.log(`\ncommit → applied on hosts (webhook), ${N} one-app commits: p50 ${q(totals, 0.5).toFixed(0)} ms, p90 ${q(totals, 0.9).toFixed(0)} ms, min ${Math.min(...totals).toFixed(0)} ms, max ${Math.max(...totals).toFixed(0)} ms (target p50 < 2000 ms)`);
  console.log(`tasks (deploy billing: upload, unpack, restart, health gate) p50 ${q(rows.map((r) => r.run), 0.5)} ms`);
} finally {
  ac.abort();
  await served;
  await run(["demo", "--repo", origin, "--down"], { ...io, cwd: work }, new AbortController().signal);
  rmSync(origin, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
