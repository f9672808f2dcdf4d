// Every command that changes an environment holds its lock: two `amphi apply` processes of one environment
// (local transport, hosts on this machine) never run at once; the second waits for the first, or with
// --lock-timeout 0 exits 1 naming the holder's pid and host; apply beside reconcile waits the same way.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loopRepo, setBillingEnv, type LoopRepo } from "./support.js";
import { FileEnvLocks } from "../../src/adapters/state/file-lock.js";

const BIN = fileURLToPath(new URL("../../bin/amphi.js", import.meta.url));
let repo: LoopRepo;

before(async () => {
  repo = await loopRepo("amphi-apply-lock");
});

after(async () => {
  await repo.cleanup();
});

interface Proc {
  pid: number;
  /** What it printed on stderr so far. */
  stderr(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts `amphi <args>` as its own process in the repo. */
function start(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: repo.dir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return { pid: child.pid!, stderr: () => stderr, done: new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr }))) };
}

const apply = (...extra: string[]) => start(["apply", "--env", "local", "--repo", repo.dir, "--yes", ...extra]);
const lockFile = () => join(repo.dir, ".amphi/locks/local.lock");

/** Polls until `cond` holds or `p` has ended; whether it held. */
async function until(cond: () => boolean, p: Proc): Promise<boolean> {
  let ended = false;
  void p.done.then(() => (ended = true));
  while (!ended) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/** Whether the lock file names `pid`. */
function lockedBy(pid: number): boolean {
  try {
    return (JSON.parse(readFileSync(lockFile(), "utf8")) as { pid: number }).pid === pid;
  } catch {
    return false; // absent, or being written
  }
}

/** Gates billing's start command on a file: its deploy stays in the health gate (holding the lock) until
 * the test creates the file. Deterministic, whatever the machine's load. */
function gateBilling(gate: string): void {
  const spec = join(repo.dir, "apps/billing/spec.yaml");
  const text = readFileSync(spec, "utf8").replace(/start: (?:.*; )?(exec )?(node server\.mjs .*)$/m, `start: while [ ! -e ${gate} ]; do sleep 0.1; done; exec $2`);
  writeFileSync(spec, text);
}

test("a second apply, or a reconcile, exits 1 naming the running apply's pid and host; one that waits runs after it", async () => {
  const gate = join(repo.dir, ".amphi", "gate-1");
  gateBilling(gate);
  const first = apply("--health-timeout", "120");
  let waiter: Proc | null = null;
  try {
    if (!(await until(() => lockedBy(first.pid), first))) assert.fail(`the first apply holds the lock while it runs:\n${(await first.done).stderr}`);
    const refused = await apply("--lock-timeout", "0").done;
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`environment local is being reconciled by pid ${first.pid} on ${hostname()} since`));
    assert.doesNotMatch(refused.stderr, /deploy /, "it applied nothing");
    const rec = await start(["reconcile", "--env", "local", "--once", "--repo", repo.dir, "--lock-timeout", "0"]).done;
    assert.equal(rec.code, 1, rec.stderr);
    assert.match(rec.stderr, new RegExp(`by pid ${first.pid} on ${hostname()}`));
    waiter = apply("--lock-timeout", "300s");
    assert.ok(await until(() => waiter!.stderr().includes("waiting up to 300s"), waiter), waiter.stderr());
    assert.ok(lockedBy(first.pid), "still the first apply's");
  } finally {
    writeFileSync(gate, "");
  }
  const a = await first.done;
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /deploy billing\s+succeeded/);
  const b = await waiter.done;
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /No changes/, "it planned after the first apply ended, from what that one left");
  assert.equal(existsSync(lockFile()), false, "the lock is released");
});

test("apply beside a running reconcile: refused naming the reconcile's pid (one lock for every command)", async () => {
  const gate = join(repo.dir, ".amphi", "gate-2");
  gateBilling(gate);
  await repo.commit("billing: gated start");
  const rec = start(["reconcile", "--env", "local", "--once", "--repo", repo.dir, "--health-timeout", "120"]);
  try {
    if (!(await until(() => lockedBy(rec.pid) && rec.stderr().includes("deploy billing"), rec))) assert.fail(`reconcile holds the lock while it deploys:\n${(await rec.done).stderr}`);
    const refused = await apply("--lock-timeout", "0").done;
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`environment local is being reconciled by pid ${rec.pid} on ${hostname()}`));
  } finally {
    writeFileSync(gate, "");
  }
  const r = await rec.done;
  assert.equal(r.code, 0, r.stderr);
});

test("apply --async: the detached runner takes the lock; when it cannot, its run ends failed naming the holder", async () => {
  setBillingEnv(repo.dir, "2.3.0-async"); // a change, so that there is a run to start
  const lease = await new FileEnvLocks(join(repo.dir, ".amphi", "locks")).acquire("local", { timeoutMs: 0 });
  try {
    const r = await apply("--async", "--lock-timeout", "0").done;
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    let run = await repo.store.getRun(id);
    for (let i = 0; i < 600 && run?.state === "queued"; i++) {
      await new Promise((res) => setTimeout(res, 50));
      run = await repo.store.getRun(id);
    }
    assert.equal(run?.state, "failed", JSON.stringify(run));
    assert.match(run!.message, new RegExp(`not started: environment local is being reconciled by pid ${process.pid} on ${hostname()}`));
    assert.equal(run!.tasks.length, 0, "nothing was applied");
  } finally {
    await lease.release();
  }
});
