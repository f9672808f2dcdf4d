// Which handler runs a task: each runtime's task hooks list its kinds and name its handler; execute asks
// handlerOf instead of keeping its own table.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PlanStep, TaskKind } from "../../src/model/index.js";
import { RUNTIME_ORDER, handlerOf, hooksOf, type HandlerName } from "../../src/runtimes/index.js";

// Record<TaskKind, …>: the type-check fails when a task kind is added without a line here.
const EXPECTED: Record<TaskKind, HandlerName> = {
  deploy: "hosts",
  start: "hosts",
  undeploy: "hosts",
  sidecar: "hosts",
  unsidecar: "hosts",
  capture: "hosts",
  uncapture: "hosts",
  "k8s-apply": "cluster",
  "k8s-delete": "cluster",
  register: "registry",
  deregister: "registry",
  "mesh-policy": "mesh",
};

test("every task kind is run by the handler its runtime names", () => {
  for (const [kind, handler] of Object.entries(EXPECTED)) assert.equal(handlerOf(kind as TaskKind), handler, kind);
});

test("a kind no runtime lists has no handler", () => {
  assert.equal(handlerOf("nomad-run" as TaskKind), undefined);
});

test("each task kind belongs to one runtime, and every kind a runtime's steps make is in its list", () => {
  const owners = RUNTIME_ORDER.flatMap((r) => hooksOf(r).tasks.kinds.map((k) => `${k} ${r}`));
  assert.equal(new Set(owners.map((o) => o.split(" ")[0])).size, owners.length, owners.join(", "));
  for (const runtime of RUNTIME_ORDER) {
    const { tasks } = hooksOf(runtime);
    const step = (op: PlanStep["op"], fields: PlanStep["fields"] = []): PlanStep => ({ wave: 0, runtime, target: "t", app: "a", op, key: "k", object: "o", fields });
    const made = [step("create"), step("delete"), step("update", [{ path: "process", from: "stopped", to: "running" }]), step("update", [{ path: "x", from: 1, to: 2 }])].map((s) => tasks.kind(s));
    for (const kind of made) assert.ok(tasks.kinds.includes(kind), `${runtime} makes ${kind} tasks but does not list them`);
  }
});
