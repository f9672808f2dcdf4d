// Two `amphi serve` replicas (child processes) on one config repo whose environment keeps its state in
// Consul (the Consul test double): runs in KV, one session lock `amphi/locks/local` per environment.
// Applies of the two never overlap; when the replica holding the lock is killed (SIGKILL) during a run,
// the other takes the lock once the dead session is invalidated (Consul: up to 2 × TTL) and the lock
// delay has passed, and applies the change.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { commitAll, initRepo, writeFiles } from "../support/git-repo.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { killUnder } from "../support/local-host.js";
import { billingEnvOnHost, setBillingEnv } from "../loop/support.js";
import { eventually, http } from "./support.js";
import type { RunRecord } from "../../src/model/index.js";

const BIN = fileURLToPath(new URL("../../bin/amphi.js", import.meta.url));
const LOCK = "amphi/locks/local";
// ConsulEnvLocks' defaults (src/adapters/state/consul-store.ts): TTL 15s, LockDelay 5s.
const TTL_MS = 15_000;
const LOCK_DELAY_MS = 5_000;

interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  log(): string;
  exited: Promise<number | null>;
}

let double: ConsulDouble;
let dir = "";
const replicas: Replica[] = [];
/** Lock holder samples: time, session (null: free), holder pid. */
const samples: { at: number; session: string | null; pid: number | null }[] = [];
let sampler: NodeJS.Timeout | null = null;

async function startReplica(name: string): Promise<Replica> {
  const child = spawn(process.execPath, [BIN, "serve", "--repo", dir, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h", "--lock-timeout", "90s", "--state-dir", join(dir, ".amphi", `replica-${name}`)], {
    cwd: dir, stdio: ["ignore", "ignore", "pipe"], env: process.env,
  });
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const url = await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`replica ${name} exited ${child.exitCode}: ${err}`);
    return /serving .* on (http:\/\/\S+)/.exec(err)?.[1];
  }, 60_000, `replica ${name} listening`);
  // Last resort if the test process ends without its after hook (a runner timeout): no replica outlives it.
  process.once("exit", () => child.kill("SIGKILL"));
  const r: Replica = { name, child, url, log: () => err, exited };
  replicas.push(r);
  return r;
}

function runsInKv(): RunRecord[] {
  return double.state().kv.filter((e) => e.Key.startsWith("amphi/runs/")).map((e) => JSON.parse(e.Value) as RunRecord);
}

async function post(r: Replica): Promise<string> {
  const res = await eventually(async () => {
    const p = await http(`${r.url}/v1/runs`, { method: "POST", body: JSON.stringify({ env: "local" }), headers: { "content-type": "application/json" } });
    return p.status === 409 ? undefined : p;
  }, 30_000, `POST /v1/runs on ${r.name}`);
  assert.equal(res.status, 202, res.text);
  return res.body.id as string;
}

function finished(id: string, ms: number): Promise<RunRecord> {
  return eventually(async () => {
    const run = runsInKv().find((x) => x.id === id);
    return run && run.state !== "running" && run.state !== "queued" ? run : undefined;
  }, ms, `run ${id} to end\n${replicas.map((r) => `--- ${r.name}\n${r.log()}`).join("\n")}`);
}

/** Runs that applied something, as [start, end] (a run its process died in ends at `deadAt`). */
function applyIntervals(deadAt: Map<number, number>): { id: string; pid: number | null; from: number; to: number }[] {
  return runsInKv()
    .filter((r) => r.tasks.length > 0 && r.startedAt)
    .map((r) => ({ id: r.id, pid: r.pid, from: Date.parse(r.startedAt!), to: r.endedAt ? Date.parse(r.endedAt) : ((r.pid !== null ? deadAt.get(r.pid) : undefined) ?? Date.now()) }));
}

function assertNoOverlap(deadAt: Map<number, number>): void {
  const spans = applyIntervals(deadAt).sort((a, b) => a.from - b.from);
  for (let i = 1; i < spans.length; i++) {
    assert.ok(spans[i]!.from >= spans[i - 1]!.to, `applies overlap: ${JSON.stringify(spans[i - 1])} and ${JSON.stringify(spans[i])}`);
  }
}

before(async () => {
  double = await startConsulDouble();
  ({ dir } = await exampleCopy("amphi-replicas"));
  const envFile = join(dir, "environments/local.yaml");
  const text = readFileSync(envFile, "utf8")
    .replace("spec:\n", `spec:\n  consul:\n    address: ${double.url}\n`)
    .replace(/state:\n\s+backend: file\n/, "state:\n    backend: consul\n");
  assert.match(text, /backend: consul/);
  writeFileSync(envFile, text);
  writeFiles(dir, { ".gitignore": ".amphi/\n" });
  await initRepo(dir);
  await commitAll(dir, "example config, state in Consul");
  sampler = setInterval(() => {
    const e = double.state().kv.find((k) => k.Key === LOCK);
    const session = e?.Session ?? null;
    let pid: number | null = null;
    if (session && e?.Value) pid = (JSON.parse(e.Value) as { pid: number }).pid;
    const last = samples.at(-1);
    if (!last || last.session !== session) samples.push({ at: Date.now(), session, pid });
  }, 10);
  await startReplica("a");
  await startReplica("b");
});

after(async () => {
  if (sampler) clearInterval(sampler);
  for (const r of replicas) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill("SIGTERM");
      const code = await Promise.race([r.exited, new Promise<"timeout">((res) => setTimeout(() => res("timeout"), 10_000))]);
      if (code === "timeout") {
        r.child.kill("SIGKILL");
        await r.exited;
      }
    }
  }
  if (dir) {
    await amphi(["demo", "--repo", dir, "--env", "local", "--down"], dir);
    // What the killed replica left running (a supervisor it started) — only processes under this dir.
    killUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  await double?.close();
});

test("both replicas start; the first deploy is applied once, by whichever took the lock", async () => {
  await eventually(async () => (replicas.every((r) => /local (applied|in-sync) \(start\)/.test(r.log())) ? true : undefined), 60_000, "both start cycles");
  const applied = replicas.filter((r) => /local applied \(start\)/.test(r.log()));
  assert.equal(applied.length, 1, replicas.map((r) => r.log()).join("\n---\n"));
  assertNoOverlap(new Map());
});

test("a new commit requested on both replicas at once (and seen by both watches): applied once, never two applies at a time", async () => {
  setBillingEnv(dir, "2.3.0-replicas");
  const sha = await commitAll(dir, "billing 2.3.0-replicas");
  const [ida, idb] = await Promise.all([post(replicas[0]!), post(replicas[1]!)]);
  const [ra, rb] = await Promise.all([finished(ida, 60_000), finished(idb, 60_000)]);
  for (const r of [ra, rb]) {
    assert.equal(r.state, "succeeded", r.message);
    assert.equal(r.revision, sha);
  }
  // The commit also wakes both replicas' watches: whichever cycle got the lock first deployed billing,
  // every other one found it in sync.
  const deployed = runsInKv().filter((r) => r.revision === sha && r.tasks.some((t) => t.app === "billing" && t.result === "changed"));
  assert.equal(deployed.length, 1, JSON.stringify(runsInKv().filter((r) => r.revision === sha).map((r) => [r.id, r.pid, r.tasks.length])));
  assert.equal(billingEnvOnHost(dir), "2.3.0-replicas");
  assertNoOverlap(new Map());
});

test("the holder killed during a run: the other replica takes the lock within 2 × TTL + LockDelay and applies", { timeout: 120_000 }, async () => {
  setBillingEnv(dir, "2.3.0-takeover");
  const sha = await commitAll(dir, "billing 2.3.0-takeover");
  // Both watches wake: one replica applies (its run saved as running, holding the lock), the other waits.
  const dying = await eventually(async () => runsInKv().find((r) => r.revision === sha && r.state === "running"), 30_000, `a run of ${sha.slice(0, 12)} running`);
  const holder = replicas.find((r) => r.child.pid === dying.pid)!;
  const survivor = replicas.find((r) => r !== holder)!;
  assert.ok(holder, `run ${dying.id} by pid ${dying.pid}, not a replica`);
  holder.child.kill("SIGKILL");
  const killedAt = Date.now();
  await holder.exited;
  assert.equal(runsInKv().find((r) => r.id === dying.id)?.state, "running", "the holder died during its run");
  assert.equal(samples.at(-1)!.pid, holder.child.pid, "the dead replica's session still holds the lock");
  // An API request too (409 while the survivor's watch cycle waits for the lock: it does the work then).
  await http(`${survivor.url}/v1/runs`, { method: "POST", body: JSON.stringify({ env: "local" }), headers: { "content-type": "application/json" } });
  const done = await eventually(async () => runsInKv().find((r) => r.revision === sha && r.pid === survivor.child.pid && r.state !== "running" && r.tasks.some((t) => t.app === "billing")), 90_000, `the survivor's apply\n${survivor.log()}`);
  const took = samples.find((s) => s.at > killedAt && s.session !== null && s.pid === survivor.child.pid);
  assert.ok(took, `the survivor took the lock: ${JSON.stringify(samples.slice(-5))}`);
  const takeoverMs = took.at - killedAt;
  // Consul invalidates a session not renewed within 2 × TTL; the lock delay follows. The holder renewed at
  // most TTL/2 before it died, so the lock is free at most 2 × TTL + LockDelay after the kill.
  assert.ok(takeoverMs <= 2 * TTL_MS + LOCK_DELAY_MS + 2_000, `takeover after ${takeoverMs} ms`);
  assert.ok(takeoverMs >= LOCK_DELAY_MS, `the lock delay is kept (${takeoverMs} ms)`);
  assert.equal(done.state, "succeeded", done.message);
  assert.ok(done.tasks.some((t) => t.app === "billing" && t.state === "succeeded"), JSON.stringify(done.tasks.map((t) => [t.kind, t.app, t.state])));
  assert.equal(billingEnvOnHost(dir), "2.3.0-takeover");
  assertNoOverlap(new Map([[holder.child.pid!, killedAt]]));
  process.stderr.write(`# lock takeover after SIGKILL: ${takeoverMs} ms\n`);
});
