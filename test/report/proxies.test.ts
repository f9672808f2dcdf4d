// Proxies in the drift report (src/report/build.ts addProxies) and in commit statuses (src/health/status.ts): a NACK
// or a proxy lost longer than the grace period is a `proxy` item in the mesh row of the app its node id names
// (the environment's mesh row when it names none of the config's apps); a short disconnect and a healthy proxy
// are nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildDriftReport } from "../../src/report/index.js";
import { statusesFor } from "../../src/health/status.js";
import type { ObservedProxy } from "../../src/model/index.js";
import { NOW, REVISION, inSyncActual, scenarioDesired, scenarioPlan } from "./scenario.js";

const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const nack = { acked: "v1", nacked: "v2", error: "outlier_detection.max_ejection_percent out of range" };
const fine = { acked: "v2", nacked: null, error: null };

function reportWith(proxies: ObservedProxy[], proxyGraceMs?: number) {
  const desired = scenarioDesired();
  const actual = inSyncActual(desired, { proxies });
  return buildDriftReport({ desired, actual, plan: scenarioPlan(desired, actual), revision: REVISION, now: NOW, proxyGraceMs });
}

test("healthy proxies and a disconnect within the grace period are no drift", () => {
  const report = reportWith([
    { id: "sidecar~prod~billing~vm-1", connected: true, since: ago(3_600_000), types: { cluster: fine, listener: fine } },
    { id: "sidecar~prod~web~web-1", connected: false, since: ago(10_000), types: { cluster: fine } },
  ]);
  assert.ok(report.rows.every((r) => r.status === "in-sync" && r.items.length === 0), JSON.stringify(report.rows.filter((r) => r.items.length > 0)));
  assert.equal(report.summary.drifted, 0);
});

test("a NACK and a lost proxy are proxy items in their app's mesh row; others in the environment's; status says so", () => {
  const report = reportWith([
    { id: "sidecar~prod~billing~vm-1", connected: true, since: ago(60_000), types: { cluster: nack, endpoint: fine } },
    { id: "sidecar~prod~web~web-1", connected: false, since: ago(120_000), types: { cluster: fine } },
    { id: "grpc-client~batch", connected: true, since: ago(1_000), types: { listener: { acked: null, nacked: "v7", error: "no route" } } },
    { id: "sidecar~prod~retired~vm-2", connected: true, since: ago(1_000), types: { route: nack } },
    { id: "sidecar~staging~billing~vm-1", connected: false, since: ago(30_000), types: {} },
  ]);
  const rows = report.rows.filter((r) => r.items.length > 0).map((r) => ({ app: r.app, runtime: r.runtime, target: r.target, status: r.status, health: r.health, items: r.items }));
  assert.deepEqual(rows, [
    {
      app: "billing", runtime: "mesh", target: "xds", status: "drifted", health: "degraded",
      items: [{ kind: "proxy", object: "sidecar~prod~billing~vm-1", detail: "NACKed cluster version v2 (runs v1): outlier_detection.max_ejection_percent out of range", proxy: "nacked" }],
    },
    {
      app: "web", runtime: "mesh", target: "xds", status: "drifted", health: "degraded",
      items: [{ kind: "proxy", object: "sidecar~prod~web~web-1", detail: `disconnected from the control plane since ${ago(120_000)}`, proxy: "disconnected" }],
    },
    {
      app: null, runtime: "mesh", target: "xds", status: "drifted", health: "degraded",
      items: [
        { kind: "proxy", object: "grpc-client~batch", detail: "NACKed listener version v7 (no version of it accepted yet): no route", proxy: "nacked" },
        { kind: "proxy", object: "sidecar~prod~retired~vm-2", detail: "NACKed route version v2 (runs v1): outlier_detection.max_ejection_percent out of range", proxy: "nacked" },
      ],
    },
  ]);
  assert.equal(report.summary.drifted, 3);
  const statuses = new Map(statusesFor(report).map((s) => [s.context, s]));
  assert.equal(statuses.get("amphi/prod/billing")?.state, "failure");
  assert.match(statuses.get("amphi/prod/billing")!.description, /xds degraded · 1 proxy NACKs its config · 1 out of sync$/);
  assert.match(statuses.get("amphi/prod/web")!.description, /xds degraded · 1 proxy disconnected · 1 out of sync$/);
  // A longer grace: the web sidecar's two minutes are within it.
  assert.ok(!reportWith([{ id: "sidecar~prod~web~web-1", connected: false, since: ago(120_000), types: {} }], 300_000).rows.some((r) => r.items.length > 0));
});

test("a VM host's sidecar (host~<env>~<group>~<host>) that NACKs is an item in the mesh row of every app on that host", async () => {
  const desired = scenarioDesired();
  const onVm1 = [...new Set(desired.resources.filter((r) => r.runtime === "vm" && r.target === "legacy/vm-1").map((r) => r.app!))].sort();
  assert.ok(onVm1.length >= 2, `the scenario has apps on legacy/vm-1: ${onVm1.join(", ")}`);
  const report = reportWith([
    { id: "host~prod~legacy~vm-1", connected: true, since: ago(60_000), types: { listener: nack } },
    { id: "host~staging~legacy~vm-1", connected: false, since: ago(600_000), types: {} },
  ]);
  const rows = report.rows.filter((r) => r.items.length > 0 && r.app !== null);
  assert.deepEqual(rows.map((r) => [r.app, r.runtime]).sort(), onVm1.map((a) => [a, "mesh"]));
  const env = report.rows.find((r) => r.app === null && r.runtime === "mesh");
  assert.deepEqual(env?.items.map((i) => i.object), ["host~staging~legacy~vm-1"], "another environment's host sidecar: the environment's row");
  for (const r of rows) assert.deepEqual(r.items.map((i) => [i.object, i.proxy]), [["host~prod~legacy~vm-1", "nacked"]]);
});
