// execute and tasks that need their own app (the mesh runtime's `mesh-policy`): a policy is not pushed when a task
// of its app failed or was not run in an earlier wave (a split would send calls to a version that is not there),
// and it runs when they succeeded; tasks of other kinds keep depending only on other apps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execute } from "../../src/reconcile/execute.js";
import { RunRecorder } from "../../src/reconcile/recorder.js";
import type { RunRecord } from "../../src/model/index.js";
import type { TaskSpec } from "../../src/plan/tasks.js";
import { FakeHandler, MemoryStateStore, fixedClock } from "../fakes/handlers.js";

const newRun = (): RunRecord => ({
  apiVersion: "amphi.dev/v1", kind: "Run", id: "r-own-1", env: "prod", revision: null, source: "test", state: "queued",
  createdAt: "", startedAt: null, endedAt: null, summary: { create: 0, update: 0, delete: 0, unchanged: 0, unknown: 0 }, message: "", pid: null, tasks: [],
});
const deploy = (target: string, app: string, wave: number): TaskSpec => ({ kind: "deploy", target, app, wave, keys: [`vm/${target}/${app}`], payload: { kind: "start", app } });
const policy = (app: string, wave: number): TaskSpec => ({
  kind: "mesh-policy", target: "xds", app, wave, keys: [`mesh/${app}`], payload: { kind: "mesh-policy", service: app, app, policy: null },
});

async function run(specs: TaskSpec[], hosts: FakeHandler, mesh: FakeHandler) {
  const recorder = new RunRecorder(newRun(), new MemoryStateStore(), fixedClock, []);
  return execute(specs, { handlers: { hosts, mesh }, recorder, parallel: 10, maxUnavailable: { g: 1, h: 1 }, deps: {}, signal: new AbortController().signal });
}

test("a policy whose app's deploy failed (or was not run after a halted rollout) is not pushed; another app's is", async () => {
  const hosts = new FakeHandler().failOn("g/a", "deploy", "TaskError", "g/a: health check failed; rolled back");
  const mesh = new FakeHandler();
  const result = await run([deploy("g/a", "billing", 1), deploy("g/b", "billing", 1), deploy("h/c", "user", 1), policy("billing", 2), policy("user", 2)], hosts, mesh);
  const state = (kind: string, app: string) => result.tasks.find((t) => t.kind === kind && t.app === app && (kind !== "deploy" || t.target === "g/a"))!;
  assert.equal(state("deploy", "billing").state, "failed");
  assert.equal(state("mesh-policy", "billing").state, "cancelled");
  assert.equal(state("mesh-policy", "billing").message, "not run: deploy of billing on g/a failed");
  assert.deepEqual(mesh.calls.map((c) => c.app), ["user"], "user's deploy succeeded: its policy goes out");
});

test("a policy after its app's successful deploy runs", async () => {
  const mesh = new FakeHandler();
  const result = await run([deploy("g/a", "billing", 1), policy("billing", 2)], new FakeHandler(), mesh);
  assert.equal(result.state, "succeeded");
  assert.deepEqual(mesh.calls.map((c) => c.kind), ["mesh-policy"]);
});

test("an instance whose deploy failed on its host is not registered; the registration on a host whose deploy succeeded is", async () => {
  const hosts = new FakeHandler().failOn("g/a", "deploy", "TaskError", "g/a: health check failed; rolled back");
  const registry = new FakeHandler();
  const register = (target: string): TaskSpec => ({
    kind: "register", target, app: "billing", wave: 1, keys: [`consul/billing/billing-${target}`], payload: { kind: "deregister", id: `billing-${target}`, service: "billing" },
  });
  const recorder = new RunRecorder(newRun(), new MemoryStateStore(), fixedClock, []);
  const result = await execute([deploy("g/a", "billing", 1), register("g/a"), deploy("h/c", "billing", 1), register("h/c")], {
    handlers: { hosts, registry }, recorder, parallel: 10, maxUnavailable: { g: 1, h: 1 }, deps: {}, signal: new AbortController().signal,
  });
  const reg = result.tasks.find((t) => t.kind === "register" && t.target === "g/a")!;
  assert.equal(reg.state, "cancelled");
  assert.equal(reg.message, "not run: deploy of billing on g/a failed");
  assert.deepEqual(registry.calls.map((c) => c.target), ["h/c"]);
});
