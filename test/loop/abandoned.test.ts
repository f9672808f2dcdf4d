// A run whose runner process died is not left `running`: `amphi tasks list/show/wait` mark it `abandoned`
// (naming the pid that died and its host), its running task abandoned and its queued ones cancelled, and save
// that. Here a real `amphi apply` is SIGKILLed in the middle of a deploy (held there by a start command gated
// on a file, so the moment does not depend on the machine's speed). Runs of another host are never judged
// by a local pid check.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { amphi } from "../support/cli.js";
import { http, serve } from "../server/support.js";
import { loopRepo, type LoopRepo } from "./support.js";
import { abandonedRun } from "../../src/reconcile/abandoned.js";
import type { RunRecord, TaskRecord } from "../../src/model/index.js";

const BIN = fileURLToPath(new URL("../../bin/amphi.js", import.meta.url));
let repo: LoopRepo;

before(async () => {
  repo = await loopRepo("amphi-abandoned");
});

after(async () => {
  writeFileSync(join(repo.dir, ".amphi", "gate"), "");
  const dir = repo.dir;
  await repo.cleanup();
  killUnder(dir);
});

/** Kills what the killed apply left running from this test's temp dir (its supervisor and gated app). */
function killUnder(dir: string): void {
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir) && Number(pid) !== process.pid) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

test("an apply killed mid-run shows as abandoned, with the pid that died, in tasks list, show and wait", async () => {
  const spec = join(repo.dir, "apps/billing/spec.yaml");
  const gate = join(repo.dir, ".amphi", "gate");
  writeFileSync(spec, readFileSync(spec, "utf8").replace(/start: (node server\.mjs .*)$/m, `start: while [ ! -e ${gate} ]; do sleep 0.1; done; exec $1`));
  const child = spawn(process.execPath, [BIN, "apply", "--env", "local", "--repo", repo.dir, "--yes", "--health-timeout", "300"], { cwd: repo.dir, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const closed = new Promise<void>((r) => child.on("close", () => r()));
  let ended = false;
  void closed.then(() => (ended = true));
  // Until the record on disk has billing's deploy running (records are saved a moment after each change).
  const billingRunning = async () => (await repo.store.listRuns({ env: "local" }))[0]?.tasks.some((t) => t.app === "billing" && t.state === "running") ?? false;
  while (!ended && !(await billingRunning())) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!ended, stderr);
  child.kill("SIGKILL");
  await closed;

  const [run] = await repo.store.listRuns({ env: "local" });
  assert.equal(run?.state, "running", "the record the dead runner left");
  assert.equal(run?.pid, child.pid);
  assert.equal(run?.host, hostname());

  const list = await amphi(["tasks", "list"], repo.dir);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${run!.id}\\s+local\\s+abandoned`));
  const shown = await amphi(["tasks", "show", run!.id, "--format", "json"], repo.dir);
  const doc = JSON.parse(shown.stdout) as RunRecord;
  assert.equal(doc.state, "abandoned");
  assert.match(doc.message, new RegExp(`runner \\(pid ${child.pid} on ${hostname()}\\) died`));
  assert.ok(doc.endedAt);
  const byApp = Object.fromEntries(doc.tasks.map((t) => [t.app, t]));
  assert.equal(byApp.catalog?.state, "succeeded");
  assert.equal(byApp.billing?.state, "abandoned");
  assert.match(byApp.billing!.message, new RegExp(`pid ${child.pid}`));
  const saved = (await repo.store.getRun(run!.id))!;
  assert.equal(saved.state, "abandoned", "the mark is saved, not only shown");
  const waited = await amphi(["tasks", "wait", run!.id, "--timeout", "5"], repo.dir);
  assert.equal(waited.code, 1);
  assert.match(waited.stdout, new RegExp(`${run!.id} abandoned`));
  assert.equal(spawnSync("kill", ["-0", String(child.pid)]).status, 1, "the runner is really gone");
});

const task = (n: number, state: TaskRecord["state"]): TaskRecord => ({
  id: `r-x.${n}`, runId: "r-x", kind: "deploy", target: "here/localhost", app: `a${n}`, wave: 1, keys: [], state, result: null,
  message: "", createdAt: "2026-01-01T00:00:00.000Z", startedAt: state === "queued" ? null : "2026-01-01T00:00:01.000Z", endedAt: null, output: [],
});
const runOf = (over: Partial<RunRecord>): RunRecord => ({
  apiVersion: "amphi.dev/v1", kind: "Run", id: "r-x", env: "local", revision: null, source: "test", state: "running", createdAt: "2026-01-01T00:00:00.000Z",
  startedAt: "2026-01-01T00:00:00.000Z", endedAt: null, summary: { create: 3, update: 0, delete: 0, unchanged: 0, unknown: 0 }, message: "", pid: 4242, host: "here",
  tasks: [task(1, "succeeded"), task(2, "running"), task(3, "queued")], ...over,
});

test("abandonedRun: running → abandoned, queued → cancelled; alive, final, pid-less and other hosts' runs are left alone", () => {
  const check = (alive: boolean) => ({ host: "here", alive: () => alive, now: () => "2026-01-01T00:01:00.000Z" });
  const out = abandonedRun(runOf({}), check(false))!;
  assert.equal(out.state, "abandoned");
  assert.equal(out.endedAt, "2026-01-01T00:01:00.000Z");
  assert.deepEqual(out.tasks.map((t) => t.state), ["succeeded", "abandoned", "cancelled"]);
  assert.ok(out.tasks.slice(1).every((t) => t.endedAt === "2026-01-01T00:01:00.000Z"));
  assert.equal(abandonedRun(runOf({}), check(true)), null, "its runner still runs");
  assert.equal(abandonedRun(runOf({ state: "failed" }), check(false)), null);
  assert.equal(abandonedRun(runOf({ pid: null, state: "queued" }), check(false)), null, "an --async run its runner has not picked up");
  assert.equal(abandonedRun(runOf({ host: "elsewhere" }), check(false)), null, "another machine's pid means nothing here");
});

test("amphi serve's API answers a run whose runner died as abandoned, in /v1/runs, /v1/runs/:id and /v1/tasks/:id, and saves it", async () => {
  const dead = spawnSync("true").pid!; // a pid that has exited: nothing of it runs
  const id = "r-20260101-000000-dead";
  await repo.store.saveRun(runOf({ id, pid: dead, host: hostname(), tasks: [task(1, "succeeded"), task(2, "running"), task(3, "queued")].map((t) => ({ ...t, id: t.id.replace("r-x", id), runId: id })) }));
  const srv = await serve(["--repo", repo.dir, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h", "--lock-timeout", "60s"], repo.dir);
  try {
    const one = await http(`${srv.url}/v1/runs/${id}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.body.state, "abandoned");
    assert.match(one.body.message, new RegExp(`pid ${dead} on ${hostname()}`));
    const listed = await http(`${srv.url}/v1/runs?env=local&limit=500`);
    assert.equal(listed.body.find((r: RunRecord) => r.id === id)?.state, "abandoned");
    const t = await http(`${srv.url}/v1/tasks/${id}.2`);
    assert.equal(t.body.state, "abandoned");
    assert.equal((await repo.store.getRun(id))?.state, "abandoned", "the mark is saved");
  } finally {
    await srv.stop();
  }
});
