// The runtime list: one entry per runtime, and the registry runtime's compare rules and report row.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PlanStep, Registration } from "../../src/model/index.js";
import { RUNTIMES, RUNTIME_ORDER, hooksOf } from "../../src/runtimes/index.js";
import { registry } from "../../src/runtimes/registry/index.js";
import { parseActualState } from "../../src/diff/actual-file.js";

const registration = (port: number): Registration => ({
  id: "user-vm-2-8091",
  service: "user",
  app: "user",
  env: "legacy",
  host: "vm-2",
  address: "10.0.0.2",
  port,
  tags: ["amphi"],
  meta: {},
  check: { checkId: "service:user", ttl: "30s", deregisterCriticalServiceAfter: "10m", notes: "" },
});
const resource = (port: number) => ({ runtime: "consul" as const, key: "consul/user/user-vm-2-8091", app: "user", target: "legacy/vm-2", registration: registration(port) });
const step = (op: PlanStep["op"]): PlanStep & { runtime: "consul" } => ({ wave: 0, runtime: "consul", target: "legacy/vm-2", app: "user", op, key: "k", object: "user-vm-2-8091", fields: [] });

test("every runtime has exactly one entry, filed under its own name", () => {
  assert.deepEqual(Object.keys(RUNTIMES).sort(), [...RUNTIME_ORDER].sort());
  for (const r of RUNTIME_ORDER) assert.equal(hooksOf(r).runtime, r);
});

test("registry: registration fields compare in full; the observed check is not a change", () => {
  assert.deepEqual(registry.compare(resource(8091), { ...resource(8091), observed: { check: "critical" } }, []), []);
  assert.deepEqual(registry.compare(resource(8091), resource(8092), []), [{ path: "port", from: 8092, to: 8091 }]);
});

test("registry: report rows, item details, the facts registry drift covers, check health", () => {
  const hooks = registry.report;
  assert.equal(hooks.row, "vm");
  assert.equal(hooks.missing(step("create")), "not registered in Consul");
  assert.equal(hooks.unexpected(step("delete")), "registered in Consul but not desired");
  assert.equal(hooks.coveredBy?.("create", "o", null), "missing:o");
  assert.equal(hooks.coveredBy?.("delete", "o", null), "unexpected:o");
  assert.equal(hooks.coveredBy?.("update", "o", "port"), "port:o");
  assert.equal(hooks.coveredBy?.("update", "o", "tags"), null);
  const ctx = { now: new Date(0), progressTimeoutMs: 1 };
  assert.equal(hooks.health({ desired: resource(1) }, ctx), null);
  // The message names the check that decided (issue 15): the HTTP health GET its notes name, else Consul's check alone.
  assert.deepEqual(hooks.health({ actual: { ...resource(1), observed: { check: "warning" } } }, ctx), { health: "progressing", message: "Consul check service:user (process only, no HTTP health check): warning" });
  const http = { ...resource(1), registration: { ...registration(1), check: { ...registration(1).check, notes: "TTL kept passing by amphi's health reporter while GET http://10.0.0.2:8091/health succeeds" } } };
  assert.deepEqual(hooks.health({ actual: { ...http, observed: { check: "passing" } } }, ctx), { health: "healthy", message: "HTTP health check (GET http://10.0.0.2:8091/health, Consul check service:user): passing" });
  assert.equal(hooks.health({ actual: { ...resource(1), observed: { check: "critical" } } }, ctx)?.health, "degraded");
});

test("targets: clusters and hosts are per target, host runtimes share a host, the registry and the mesh policy are one per environment", () => {
  assert.deepEqual(
    RUNTIME_ORDER.map((r) => [r, hooksOf(r).target.place]),
    [["k8s", "cluster"], ["vm", "host"], ["sidecar", "host"], ["capture", "host"], ["consul", "environment"], ["mesh", "environment"]],
  );
  assert.equal(registry.objectName(resource(8091)), "user-vm-2-8091");
});

test("registry tasks: register the desired registration, deregister by ID; a step without its resource is an error naming it", () => {
  assert.equal(registry.tasks.kind(step("create")), "register");
  assert.deepEqual(registry.tasks.payload?.(step("update"), resource(8091)), { kind: "register", registration: registration(8091) });
  assert.deepEqual(registry.tasks.payload?.({ ...step("delete"), key: "consul/user/user-vm-2-8091" }, undefined), { kind: "deregister", id: "user-vm-2-8091", service: "user" });
  assert.throws(() => registry.tasks.payload?.({ ...step("create"), key: "consul/user/x" }, undefined), /plan step consul\/user\/x has no desired resource/);
});

test("actual file: each runtime's payload field and checks, through the list", () => {
  const entry = { runtime: "capture", key: "capture/legacy/vm-2", app: "user", target: "legacy/vm-2", capture: { fragment: "", hooks: "none" } };
  assert.throws(
    () => parseActualState(JSON.stringify({ resources: [entry] }), "actual.json", "legacy"),
    (e: Error) =>
      e.message.includes(`"app" must be null for capture rules (they belong to a host)`) && e.message.includes(`"capture.hooks" must be a list`),
  );
  const reg = { runtime: "consul", key: "consul/user/x", app: "user", target: "legacy/vm-2", registration: { id: "" } };
  assert.throws(() => parseActualState(JSON.stringify({ resources: [reg] }), "actual.json", "legacy"), /"registration.id" must be a non-empty string/);
});
