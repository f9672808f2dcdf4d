// Commit-status state and description (src/health/status.ts): worst health + routing registry drift → state,
// a description of at most 140 characters cut on a code-point boundary, plan statuses as Atlantis posts them.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_DESCRIPTION,
  appStatus,
  envStatus,
  planFailedStatus,
  planStatus,
  stateOf,
  statusesFor,
  truncateDescription,
  type StatusRow,
} from "../../src/health/status.js";
import { HEALTH_ORDER } from "../../src/health/index.js";
import { scenarioReport } from "./scenario.js";

const row = (target: string, health: StatusRow["health"], more: Partial<StatusRow> = {}): StatusRow => ({ app: "billing", target, status: "in-sync", health, items: [], ...more });

test("state from health: healthy success, progressing pending, missing/degraded failure, unknown error", () => {
  assert.deepEqual(HEALTH_ORDER.map(stateOf), ["success", "pending", "failure", "failure", "error"]);
});

test("the scenario's statuses: one per app in the config, context amphi/<env>/<app>", () => {
  const statuses = statusesFor(scenarioReport(), { targetUrl: "https://ci.example.com/drift.html" });
  assert.deepEqual(
    statuses.map((s) => [s.context, s.state, s.description]),
    [
      ["amphi/prod/billing", "error", "2/3 healthy · vm-3 unknown · vm-3 missing in Consul · 2 out of sync"],
      ["amphi/prod/catalog", "failure", "2/3 healthy · vm-1 degraded · vm-2 wrong port in Consul · 2 out of sync"],
      ["amphi/prod/user", "pending", "0/1 healthy · eu1 progressing · 1 out of sync"],
      ["amphi/prod/web", "success", "1/1 healthy · 1 out of sync"],
    ],
  );
  assert.ok(statuses.every((s) => s.targetUrl === "https://ci.example.com/drift.html"));
  assert.ok(!statuses.some((s) => s.context.endsWith("/report")), "an app removed from the config gets no status");
});

test("registry drift that breaks routing fails an otherwise healthy app; a check warning alone does not", () => {
  const missing = appStatus("prod", "billing", [row("legacy/vm-2", "healthy"), row("legacy/vm-3", "healthy", { status: "drifted", items: [{ kind: "registry", registry: "missing" }] })]);
  assert.deepEqual([missing.state, missing.description], ["failure", "2/2 healthy · vm-3 missing in Consul · 1 out of sync"]);
  const warning = appStatus("prod", "billing", [row("legacy/vm-2", "progressing", { items: [{ kind: "registry", registry: "warning" }] })]);
  assert.deepEqual([warning.state, warning.description], ["pending", "0/1 healthy · vm-2 progressing"]);
});

test("targets are named by their last segment unless two share it", () => {
  const s = appStatus("prod", "billing", [row("a/vm-1", "degraded"), row("b/vm-1", "healthy"), row("eu1", "unknown")]);
  assert.equal(s.description, "1/3 healthy · a/vm-1 degraded · eu1 unknown");
  assert.equal(s.state, "error");
});

test("rows where the app is not desired are named but do not count toward health", () => {
  const s = appStatus("prod", "billing", [row("legacy/vm-1", "healthy"), row("legacy/vm-9", "degraded", { status: "unexpected" })]);
  assert.deepEqual([s.state, s.description], ["success", "1/1 healthy · vm-9 not desired"]);
});

test("descriptions longer than 140 characters are cut with … and the status stays within the limit", () => {
  const rows = Array.from({ length: 40 }, (_, i) => row(`legacy/host-${i}`, "degraded"));
  const s = appStatus("prod", "billing", rows);
  assert.equal(s.description.length, MAX_DESCRIPTION);
  assert.ok(s.description.endsWith("…"));
  assert.ok(s.description.startsWith("0/40 healthy · host-0 degraded · host-1 degraded"));
});

test("truncateDescription never splits a surrogate pair and counts UTF-16 units", () => {
  assert.equal(truncateDescription("short"), "short");
  const exact = "x".repeat(140);
  assert.equal(truncateDescription(exact), exact);
  const emoji = "😀".repeat(100); // 200 code units, 100 code points
  const cut = truncateDescription(emoji);
  assert.ok(cut.length <= 140 && cut.endsWith("…"));
  assert.equal(cut, `${"😀".repeat(69)}…`);
  assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(cut), "no lone high surrogate");
  const mixed = `${"a".repeat(138)}😀b`; // the emoji would straddle the limit
  assert.equal(truncateDescription(mixed), `${"a".repeat(138)}…`);
  assert.equal(truncateDescription("a\nb\r\n  c"), "a b c");
  assert.equal(truncateDescription("abcdef", 4), "abc…");
});

test("plan statuses: success with the counts (Atlantis-like), error with unseen targets, failure when planning failed", () => {
  const plan = (create: number, update: number, del: number, unknown = 0) => ({ env: "prod", summary: { create, update, delete: del, unknown } });
  assert.deepEqual(planStatus(plan(2, 1, 0)), { context: "amphi/plan/prod", state: "success", description: "2 to create, 1 to update, 0 to delete" });
  assert.deepEqual(planStatus(plan(0, 0, 0)), { context: "amphi/plan/prod", state: "success", description: "no changes" });
  assert.equal(planStatus(plan(0, 0, 1, 2)).description, "0 to create, 0 to update, 1 to delete, 2 unknown (target unreachable)");
  assert.equal(planStatus(plan(0, 0, 1, 2)).state, "error", "a plan that could not see every target is not a success");
  assert.equal(planStatus(plan(1, 0, 0), { targetUrl: "https://ci/1" }).targetUrl, "https://ci/1");
  const failed = planFailedStatus("prod", `environments/prod.yaml:3:1 /spec: ${"x".repeat(200)}\nmore lines`);
  assert.equal(failed.state, "failure");
  assert.equal(failed.context, "amphi/plan/prod");
  assert.ok(failed.description.startsWith("plan failed: environments/prod.yaml:3:1") && failed.description.length === 140);
});

test("the environment's status: error naming the unseen targets, else the worst of its apps", () => {
  const report = scenarioReport();
  const env = envStatus(report, statusesFor(report));
  assert.equal(env.context, "amphi/prod");
  assert.equal(env.state, "error");
  assert.match(env.description, /^incomplete: 1 target not seen \(legacy\/vm-3\) · \d+\/\d+ in sync$/);
  const seen = { env: "prod", rows: [row("legacy/vm-1", "healthy"), row("legacy/vm-2", "degraded", { app: "catalog", status: "drifted" })] };
  const apps = statusesFor(seen);
  assert.deepEqual(envStatus(seen, apps), { context: "amphi/prod", state: "failure", description: "1/2 in sync" });
  assert.equal(envStatus({ env: "prod", rows: [row("legacy/vm-1", "healthy")] }, statusesFor({ env: "prod", rows: [row("legacy/vm-1", "healthy")] })).state, "success");
});
