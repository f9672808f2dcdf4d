// execute: ordering, bounds, failure policy, cancellation — with a fake handler (no hosts needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execute, type Handlers } from "../../src/reconcile/execute.js";
import { RunRecorder } from "../../src/reconcile/recorder.js";
import type { RunRecord } from "../../src/model/index.js";
import type { TaskSpec } from "../../src/plan/tasks.js";
import { FakeHandler, MemoryStateStore, fixedClock } from "../fakes/handlers.js";

function newRun(): RunRecord {
  return {
    apiVersion: "amphi.dev/v1", kind: "Run", id: "r-test-1", env: "prod", revision: null, source: "test", state: "queued",
    createdAt: "", startedAt: null, endedAt: null, summary: { create: 0, update: 0, delete: 0, unchanged: 0, unknown: 0 }, message: "", pid: null, tasks: [],
  };
}

const deploy = (target: string, app: string, wave = 1): TaskSpec => ({
  kind: "deploy", target, app, wave, keys: [`vm/${target}/${app}`], payload: { kind: "start", app },
});

async function run(specs: TaskSpec[], handlers: Handlers, opts: { parallel?: number; maxUnavailable?: Record<string, number>; deps?: Record<string, string[]>; signal?: AbortSignal; secrets?: string[] } = {}) {
  const store = new MemoryStateStore();
  const recorder = new RunRecorder(newRun(), store, fixedClock, opts.secrets ?? []);
  const result = await execute(specs, {
    handlers, recorder, parallel: opts.parallel ?? 10, maxUnavailable: opts.maxUnavailable ?? { g: 10, h: 10 }, deps: opts.deps ?? {}, signal: opts.signal ?? new AbortController().signal,
  });
  return { result, store };
}

test("waves run in order, tasks of one host one at a time, hosts in parallel up to the bound", async () => {
  const h = new FakeHandler(20);
  const specs = [deploy("g/a", "x"), deploy("g/a", "y"), deploy("g/b", "x"), deploy("g/c", "x"), deploy("g/d", "x"), deploy("g/a", "z", 2)];
  const { result, store } = await run(specs, { hosts: h }, { parallel: 2 });
  assert.equal(result.state, "succeeded");
  assert.equal(h.maxActive, 2, "never more than --parallel targets at once");
  const a = h.calls.filter((c) => c.target === "g/a");
  assert.ok(a[0]!.end <= a[1]!.start, "one host runs its tasks serially");
  const wave2 = h.calls.find((c) => c.app === "z")!;
  assert.ok(h.calls.filter((c) => c.app !== "z").every((c) => c.end <= wave2.start), "wave 2 starts after wave 1 ended");
  assert.deepEqual((await store.getRun("r-test-1"))!.tasks.map((t) => t.id), ["r-test-1.1", "r-test-1.2", "r-test-1.3", "r-test-1.4", "r-test-1.5", "r-test-1.6"]);
});

test("maxUnavailable bounds the hosts of one group worked on at once", async () => {
  const h = new FakeHandler(15);
  await run([deploy("g/a", "x"), deploy("g/b", "x"), deploy("g/c", "x")], { hosts: h }, { maxUnavailable: { g: 1 } });
  assert.equal(h.maxActive, 1);
});

test("hosts that only get what is not there yet (fresh tasks) do not count against maxUnavailable; the others do", async () => {
  const fresh = (target: string, app: string): TaskSpec => ({ ...deploy(target, app), fresh: true });
  const h = new FakeHandler(30);
  await run([fresh("g/a", "x"), fresh("g/b", "x"), fresh("g/c", "x")], { hosts: h }, { maxUnavailable: { g: 1 } });
  assert.equal(h.maxActive, 3, "a first deploy reaches the group's hosts at once");
  const mixed = new FakeHandler(30);
  // g/a also updates an app already there: it counts; g/b and g/c hold only fresh tasks
  await run([deploy("g/a", "y"), fresh("g/a", "x"), deploy("g/d", "y"), fresh("g/b", "x"), fresh("g/c", "x")], { hosts: mixed }, { maxUnavailable: { g: 1 }, parallel: 10 });
  const overlap = (a: string, b: string): boolean => mixed.calls.some((c) => c.target === a && mixed.calls.some((d) => d.target === b && c.start < d.end && d.start < c.end));
  assert.ok(!overlap("g/a", "g/d"), "two hosts with updates never run together under maxUnavailable 1");
  assert.ok(overlap("g/a", "g/b") || overlap("g/d", "g/b"), "a fresh host runs beside one being updated");
});

test("an unreachable host fails only its own tasks; the run is failed with partial results", async () => {
  const h = new FakeHandler().failOn("g/b", "deploy", "TransportError", "b: connect ECONNREFUSED");
  const { result } = await run([deploy("g/a", "x"), deploy("g/b", "x"), deploy("g/c", "x")], { hosts: h }, { maxUnavailable: { g: 1 } });
  assert.equal(result.state, "failed");
  assert.deepEqual(result.tasks.map((t) => [t.target, t.state]), [["g/a", "succeeded"], ["g/b", "failed"], ["g/c", "succeeded"]]);
  assert.match(result.tasks[1]!.message, /b: connect ECONNREFUSED/);
  assert.match(result.message, /2 succeeded, 1 failed/);
});

test("a failed deploy (TaskError) stops the rest of its group's rollout in that wave", async () => {
  const h = new FakeHandler().failOn("g/a", "deploy", "TaskError", "a: health check failed; rolled back");
  const { result } = await run([deploy("g/a", "x"), deploy("g/b", "x"), deploy("h/c", "x")], { hosts: h }, { maxUnavailable: { g: 1, h: 1 } });
  const byTarget = Object.fromEntries(result.tasks.map((t) => [t.target, t]));
  assert.equal(byTarget["g/a"]!.state, "failed");
  assert.equal(byTarget["g/b"]!.state, "cancelled");
  assert.match(byTarget["g/b"]!.message, /rollout of g stopped after g\/a failed deploy x/);
  assert.equal(byTarget["h/c"]!.state, "succeeded", "other groups go on");
});

test("tasks of apps depending on a failed app are cancelled in later waves", async () => {
  const h = new FakeHandler().failOn("g/a", "deploy", "TransportError");
  const specs = [deploy("g/a", "db"), deploy("g/b", "api", 2), deploy("g/b", "web", 3), deploy("g/b", "other", 2)];
  const { result } = await run(specs, { hosts: h }, { deps: { api: ["db"], web: ["api"], other: [], db: [] } });
  assert.deepEqual(result.tasks.map((t) => [t.app, t.state]), [["db", "failed"], ["api", "cancelled"], ["web", "cancelled"], ["other", "succeeded"]]);
  assert.match(result.tasks[2]!.message, /dependency db failed/);
});

test("a task kind without an adapter fails with a message naming the target and kind", async () => {
  const spec: TaskSpec = { kind: "register", target: "g/a", app: "x", wave: 1, keys: ["consul/x/x-a-1"], payload: { kind: "deregister", id: "x-a-1", service: "x" } };
  const { result } = await run([spec], { hosts: new FakeHandler() });
  assert.equal(result.tasks[0]!.state, "failed");
  assert.equal(result.tasks[0]!.message, "g/a: no registry adapter configured for register tasks");
});

test("aborting cancels running and queued tasks and the run; the record is saved", async () => {
  const h = new FakeHandler(200);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 30);
  const { result, store } = await run([deploy("g/a", "x"), deploy("g/a", "y"), deploy("g/b", "x", 2)], { hosts: h }, { signal: ac.signal });
  assert.equal(result.state, "cancelled");
  assert.deepEqual(result.tasks.map((t) => t.state), ["cancelled", "cancelled", "cancelled"]);
  assert.equal((await store.getRun(result.id))!.state, "cancelled");
});

test("secret values never reach a task's message or output", async () => {
  const h = new FakeHandler().failOn("g/a", "deploy", "TaskError", "a: start failed: PASSWORD=hunter2-secret rejected");
  const { store } = await run([deploy("g/a", "x")], { hosts: h }, { secrets: ["hunter2-secret"] });
  const saved = JSON.stringify(await store.getRun("r-test-1"));
  assert.doesNotMatch(saved, /hunter2-secret/);
  assert.match(saved, /PASSWORD=\(secret\)/);
});

test("runs of the same second list newest first by their creation time, not by ID", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { FileStateStore } = await import("../../src/adapters/state/file-store.js");
  const dir = mkdtempSync(join(tmpdir(), `amphi-store-${process.pid}-`));
  try {
    const store = new FileStateStore(dir);
    const base = newRun();
    await store.saveRun({ ...base, id: "r-20261128T120000Z-ffffff", createdAt: "2026-11-28T12:00:00.100Z" });
    await store.saveRun({ ...base, id: "r-20261128T120000Z-000000", createdAt: "2026-11-28T12:00:00.900Z" });
    assert.deepEqual((await store.listRuns()).map((r) => r.id), ["r-20261128T120000Z-000000", "r-20261128T120000Z-ffffff"]);
    assert.deepEqual((await store.listRuns({ limit: 1 })).map((r) => r.id), ["r-20261128T120000Z-000000"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
