// buildDriftReport: rows per app × target with status, health and items; summary and coverage; registry
// drift folded into host rows without repeating what the plan says; Consul unreachable → unknown items.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildDriftReport, type DriftReport } from "../../src/report/index.js";
import type { ActualState, DesiredState } from "../../src/model/index.js";
import { NOW, REVISION, inSyncActual, scenarioActual, scenarioDesired, scenarioPlan, scenarioReport } from "./scenario.js";

const brief = (r: DriftReport) => r.rows.map((x) => `${x.app ?? "-"} ${x.target} ${x.status} ${x.health}`);

function reportOf(desired: DesiredState, actual: ActualState, extra: Partial<Parameters<typeof buildDriftReport>[0]> = {}): DriftReport {
  return buildDriftReport({ desired, actual, plan: scenarioPlan(desired, actual), revision: REVISION, now: NOW, ...extra });
}

test("the scenario: one row per app × target, sync status and health each from their own facts", () => {
  const report = scenarioReport();
  assert.deepEqual(brief(report), [
    "billing legacy/vm-1 drifted healthy",
    "billing legacy/vm-2 in-sync healthy",
    "billing legacy/vm-3 drifted unknown",
    "catalog eu1 in-sync healthy",
    "catalog legacy/vm-1 drifted degraded",
    "catalog legacy/vm-2 drifted healthy",
    "report eu1 unexpected healthy",
    "report legacy/vm-1 unexpected healthy",
    "user eu1 drifted progressing",
    "web eu1 drifted healthy",
    "- legacy/vm-1 in-sync healthy",
    "- legacy/vm-2 missing missing",
    "- legacy/vm-3 unknown unknown",
  ]);
  assert.deepEqual(report.summary, { apps: 5, targets: 4, inSync: 3, drifted: 9, unknown: 1, coverage: 84.6 });
  assert.equal(report.generatedAt, "2026-01-02T03:04:05.000Z");
  assert.equal(report.revision, REVISION);
});

test("registry drift is one item per fact: no plan item repeats a missing registration or a port mismatch", () => {
  const rows = scenarioReport().rows;
  const vm3 = rows.find((r) => r.app === "billing" && r.target === "legacy/vm-3")!;
  assert.deepEqual(vm3.items.map((i) => [i.kind, i.object, i.registry ?? null]), [
    ["unreachable", "billing", null],
    ["registry", "billing/billing-vm-3-9100", "missing"],
  ]);
  const vm2 = rows.find((r) => r.app === "catalog" && r.target === "legacy/vm-2")!;
  assert.deepEqual(vm2.items.map((i) => [i.kind, i.detail]), [["registry", "port 9091 in Consul, want 9090"]]);
});

test("a stopped process is a process item and degrades health; a critical check is registry drift", () => {
  const row = scenarioReport().rows.find((r) => r.app === "catalog" && r.target === "legacy/vm-1")!;
  // The detail names the check that decided (issue 15): the process check, before the HTTP health checks.
  assert.equal(row.healthDetail, "catalog: process check: stopped");
  assert.deepEqual(row.items.map((i) => i.kind), ["process", "registry", "registry"]);
  assert.deepEqual(row.items.slice(1).map((i) => i.registry), ["critical", "critical"]);
});

test("everything in sync and running: every row in-sync and healthy, coverage 100", () => {
  const desired = scenarioDesired();
  const report = reportOf(desired, inSyncActual(desired));
  assert.ok(report.rows.every((r) => r.status === "in-sync" && r.health === "healthy" && r.items.length === 0), brief(report).join("\n"));
  assert.equal(report.summary.coverage, 100);
  assert.equal(report.summary.drifted, 0);
});

test("pod registrations that could not be compared make the report unknown, never in sync", () => {
  const desired = scenarioDesired();
  const inSync = inSyncActual(desired);
  assert.equal(reportOf(desired, inSync, { pods: [], podsUnread: [] }).summary.unknown, 0);
  const report = reportOf(desired, inSync, { pods: [], podsUnread: [{ object: "pod registrations of cluster eu1", detail: "not compared: kubectl get pods: timed out" }] });
  assert.equal(report.summary.unknown, 1);
  const row = report.rows.find((r) => r.status === "unknown")!;
  assert.equal(row.target, "consul");
  assert.equal(row.app, null);
  assert.deepEqual(row.items, [{ kind: "unreachable", object: "pod registrations of cluster eu1", detail: "not compared: kubectl get pods: timed out" }]);
});

test("Consul unreachable: registrations are unknown items, no registry drift is guessed", () => {
  const desired = scenarioDesired();
  const actual = scenarioActual(desired);
  const noConsul: ActualState = {
    ...actual,
    resources: actual.resources.filter((r) => r.runtime !== "consul"),
    unreachable: [...actual.unreachable, { runtime: "consul", target: "http://consul.internal:8500", reason: "connect ECONNREFUSED" }],
  };
  const report = reportOf(desired, noConsul);
  const row = report.rows.find((r) => r.app === "billing" && r.target === "legacy/vm-2")!;
  assert.equal(row.status, "unknown");
  assert.deepEqual(row.items, [{ kind: "unreachable", object: "billing-vm-2-9100", detail: "consul unreachable: connect ECONNREFUSED" }]);
  assert.ok(report.rows.every((r) => r.items.every((i) => i.kind !== "registry")));
  // Cluster rows are still read, and count as covered.
  assert.equal(report.rows.find((r) => r.app === "catalog" && r.target === "eu1")!.status, "in-sync");
});

test("registry drift given by the caller replaces the computed one", () => {
  const desired = scenarioDesired();
  const actual = scenarioActual(desired);
  const report = reportOf(desired, actual, { registry: [{ kind: "warning", service: "billing", id: "billing-vm-2-9100", host: "vm-2", detail: "check x is warning" }] });
  const registry = report.rows.flatMap((r) => r.items.filter((i) => i.kind === "registry").map((i) => `${r.app} ${r.target} ${i.detail}`));
  assert.deepEqual(registry, ["billing legacy/vm-2 check x is warning"]);
  // The missing vm-3 registration is no longer covered by registry drift, so the plan's create shows.
  const vm3 = report.rows.find((r) => r.app === "billing" && r.target === "legacy/vm-3")!;
  assert.deepEqual(vm3.items.find((i) => i.kind === "missing"), { kind: "missing", object: "billing-vm-3-9100", detail: "not registered in Consul" });
});

test("a Deployment unavailable past the progress timeout is degraded", () => {
  const desired = scenarioDesired();
  const actual = scenarioActual(desired);
  const row = (r: DriftReport) => r.rows.find((x) => x.app === "user")!;
  assert.equal(row(reportOf(desired, actual)).health, "progressing");
  const late = reportOf(desired, actual, { progressTimeoutMs: 60_000 });
  assert.equal(row(late).health, "degraded");
  assert.match(row(late).healthDetail, /^Deployment\/shop\/user: unavailable for 245s/);
});

test("each row carries the version its target runs, read from the live side: image tag or amphi.dev/version, host instance", () => {
  const rows = scenarioReport().rows;
  const version = (app: string, target: string) => rows.find((r) => r.app === app && r.target === target)?.version;
  // user wants 1.4.2 in eu1 but the live Deployment still rolls out 1.4.1; billing on vm-1 runs 2.2.0 (wants 2.3.0)
  assert.equal(version("user", "eu1"), "1.4.1");
  assert.equal(version("billing", "legacy/vm-1"), "2.2.0");
  assert.equal(version("billing", "legacy/vm-2"), "2.3.0");
  // nothing read, nothing installed: no version
  assert.equal(version("billing", "legacy/vm-3"), null);
  assert.equal(rows.find((r) => r.app === null && r.target === "legacy/vm-2")?.version, null);
});

test("a Deployment's version: its pod template's amphi.dev/version annotation wins over the app container's image tag", async () => {
  const { deploymentVersion } = await import("../../src/runtimes/k8s/health.js");
  const dep = (annotations: Record<string, string>, image: string) => ({
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "user" },
    spec: { template: { metadata: { annotations }, spec: { containers: [{ name: "amphi-proxy", image: "envoy:1.31" }, { name: "app", image }] } } },
  });
  assert.equal(deploymentVersion(dep({}, "reg.example:5000/shop/user:1.4.2")), "1.4.2");
  assert.equal(deploymentVersion(dep({ "amphi.dev/version": "2026.1" }, "reg.example/shop/user:1.4.2")), "2026.1");
  assert.equal(deploymentVersion({ apiVersion: "v1", kind: "Service", metadata: { name: "user" } }), null);
});
