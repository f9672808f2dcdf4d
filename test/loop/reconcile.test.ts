// amphi reconcile on a Git repo made from the example (local environment, hosts on this machine): the
// HEAD commit is applied and recorded, a new commit is applied by the next run, uncommitted edits are not,
// one reconcile per environment at a time (wait, clear message, stale lock taken over), self-heal on/off.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { FileEnvLocks } from "../../src/adapters/state/file-lock.js";
import { billingEnvOnHost, health, loopRepo, setBillingEnv, stopApp, type LoopRepo } from "./support.js";

let repo: LoopRepo;

before(async () => {
  repo = await loopRepo("amphi-reconcile");
});

after(async () => {
  await repo.cleanup();
});

const once = (...extra: string[]) => amphi(["reconcile", "--env", "local", "--once", "--repo", repo.dir, ...extra], repo.dir);

test("--once applies the HEAD commit and records its SHA in the run", async () => {
  const r = await once();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /local applied \(once\) rev [0-9a-f]{12}/);
  const [run] = await repo.store.listRuns({ env: "local" });
  assert.equal(run?.revision, repo.sha);
  assert.equal(run?.state, "succeeded");
  assert.match(run!.source, new RegExp(`@${repo.sha.slice(0, 12)}$`));
  assert.equal(await health(repo.ports[9100]!, "/health"), 200);
  const again = await once();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /local in-sync \(once\)/);
  assert.equal((await repo.store.listRuns({ env: "local" })).length, 1, "a run in sync is not recorded");
  // Statuses are written only when they change: another in-sync cycle (a new process would do the same:
  // nothing of the last post is remembered between `--once` runs) adds no refs/notes/amphi commit.
  const notes = () => spawnSync("git", ["rev-list", "--count", "refs/notes/amphi"], { cwd: repo.dir, encoding: "utf8" }).stdout.trim();
  const count = notes();
  const third = await once();
  assert.match(third.stderr, /local in-sync \(once\)/);
  assert.equal(notes(), count, "an in-sync cycle that changes no status writes no note");
});

test("every cycle writes its drift report, and the commit gets one git-notes status per app", async () => {
  const [run] = await repo.store.listRuns({ env: "local" });
  const reports = join(repo.dir, ".amphi", "reports", "local");
  for (const f of [`${run!.id}.json`, `${run!.id}.md`, `${run!.id}.html`, "latest.json", "latest.md", "latest.html"]) assert.ok(existsSync(join(reports, f)), f);
  const note = spawnSync("git", ["notes", "--ref", "amphi", "show", repo.sha], { cwd: repo.dir, encoding: "utf8" });
  assert.equal(note.status, 0, note.stderr);
  const doc = JSON.parse(note.stdout) as { statuses: Record<string, { state: string; description: string }> } | Record<string, unknown>;
  const text = JSON.stringify(doc);
  for (const app of ["billing", "catalog"]) assert.match(text, new RegExp(`amphi/local/${app}`));
  assert.match(text, /"success"/);
});

test("a new commit is applied by the next run; uncommitted edits are ignored", async () => {
  setBillingEnv(repo.dir, "2.3.0-loop");
  const sha = await repo.commit("billing: APP_VERSION 2.3.0-loop");
  const r = await once();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /deploy billing\s+succeeded \(changed\)/);
  assert.doesNotMatch(r.stderr, /deploy catalog/);
  const [run] = await repo.store.listRuns({ env: "local" });
  assert.equal(run?.revision, sha);
  assert.equal(billingEnvOnHost(repo.dir), "2.3.0-loop");

  setBillingEnv(repo.dir, "2.3.0-uncommitted");
  const dirty = await once();
  assert.equal(dirty.code, 0, dirty.stderr);
  assert.match(dirty.stderr, /in-sync/);
  assert.equal(billingEnvOnHost(repo.dir), "2.3.0-loop");
  setBillingEnv(repo.dir, "2.3.0-loop");
});

test("a second reconcile of the same environment waits for the lock, or exits 1 naming the holder", async () => {
  const locks = new FileEnvLocks(join(repo.dir, ".amphi", "locks"));
  const lease = await locks.acquire("local", { timeoutMs: 0 });
  const busy = await once("--lock-timeout", "300ms");
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, new RegExp(`environment local is being reconciled by pid ${process.pid} on ${hostname()} since \\d{4}-\\d\\d-\\d\\dT`));
  setTimeout(() => void lease.release(), 400);
  const t0 = Date.now();
  const waited = await once("--lock-timeout", "10s");
  assert.equal(waited.code, 0, waited.stderr);
  assert.ok(Date.now() - t0 >= 350, "it waited for the holder");
  // Two at once: both end well, one after the other.
  setBillingEnv(repo.dir, "2.3.0-concurrent");
  const sha = await repo.commit("billing: concurrent");
  const [a, b] = await Promise.all([once("--lock-timeout", "60s"), once("--lock-timeout", "60s")]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal([a, b].filter((x) => /local applied/.test(x.stderr)).length, 1, a.stderr + b.stderr);
  assert.equal([a, b].filter((x) => /local in-sync/.test(x.stderr)).length, 1);
  assert.equal((await repo.store.listRuns({ env: "local" }))[0]?.revision, sha);
  assert.equal(existsSync(join(repo.dir, ".amphi/locks/local.lock")), false, "the lock is released");
});

test("a stale lock (its process is gone) is taken over", async () => {
  const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
  mkdirSync(join(repo.dir, ".amphi/locks"), { recursive: true });
  writeFileSync(join(repo.dir, ".amphi/locks/local.lock"), JSON.stringify({ pid: dead, host: hostname(), since: "2020-01-01T00:00:00.000Z", token: "old", procStart: null }));
  const r = await once("--lock-timeout", "0");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(join(repo.dir, ".amphi/locks/local.lock")), false);
  // A lock held on another host is never judged stale from here.
  writeFileSync(join(repo.dir, ".amphi/locks/local.lock"), JSON.stringify({ pid: dead, host: "elsewhere", since: "2020-01-01T00:00:00.000Z", token: "x", procStart: null }));
  const other = await once("--lock-timeout", "0");
  assert.equal(other.code, 1);
  assert.match(other.stderr, new RegExp(`environment local is being reconciled by pid ${dead} on elsewhere since 2020-01-01`));
  rmSync(join(repo.dir, ".amphi/locks/local.lock"));
});

test("--no-self-heal reports drift without applying it; self-heal repairs it", async () => {
  await stopApp(repo.dir, "billing");
  assert.equal(await health(repo.ports[9100]!, "/health"), 0);
  const report = await once("--no-self-heal");
  assert.equal(report.code, 2, report.stderr);
  assert.match(report.stderr, /local drift \(once\).*drift not applied \(self-heal off\): 0 to create, 1 to update, 0 to delete/);
  assert.equal(await health(repo.ports[9100]!, "/health"), 0, "nothing was applied");
  // A new commit is applied even without self-heal (the drift goes with it).
  setBillingEnv(repo.dir, "2.3.0-noheal");
  await repo.commit("billing: noheal");
  const applied = await once("--no-self-heal");
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(await health(repo.ports[9100]!, "/health"), 200);
  await stopApp(repo.dir, "billing");
  const heal = await once();
  assert.equal(heal.code, 0, heal.stderr);
  assert.match(heal.stderr, /start billing\s+succeeded/);
  assert.equal(await health(repo.ports[9100]!, "/health"), 200);
});

test("a plain directory (no Git) is reconciled as it is, with no revision, and says so", async () => {
  const { dir } = await exampleCopy("amphi-reconcile-plain");
  const state = mkdtempSync(join(tmpdir(), "amphi-reconcile-plain-state-"));
  try {
    // Only validation and planning matter here: an unknown environment fails before anything is applied.
    const r = await amphi(["reconcile", "--env", "nope", "--once", "--repo", dir], state);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not a Git repository: runs have no revision/);
    assert.match(r.stderr, /unknown environment "nope"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});

test("bad options are refused with a clear message", async () => {
  const both = await amphi(["reconcile", "--env", "local", "--once", "--repo", repo.dir, "--url", "https://x.invalid/r.git"], repo.dir);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /--repo and --url exclude each other/);
  const bad = await once("--lock-timeout", "soon");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--lock-timeout must be a duration like 30s or 5m, not "soon"/);
});
