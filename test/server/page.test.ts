// The fleet page rendered on the server (src/server/page.ts) from the drift report scenario (test/report/scenario.ts):
// every app × target cell with its status and version, the filters of the query, completeness with scripts off
// (no script at all, every fact in the HTML), the topology with a traffic split's versions side by side, the run
// timeline, "no cycle yet" before a report, names escaped. The access rules of the page are checked here as pure
// functions (src/server/access.ts) and over real HTTP in page-serve.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RunRecord } from "../../src/model/index.js";
import { buildDriftReport, buildMatrix, cellOf, columnOf, type DriftReport } from "../../src/report/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { diff } from "../../src/diff/index.js";
import { PAGE_CSP, readPageFilter, renderFleetPage, type PageFilter } from "../../src/server/page.js";
import type { EnvView } from "../../src/server/fleet.js";
import { FleetState } from "../../src/server/fleet.js";
import { createHmac } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { checkApiAccess, overTls, readSession, SESSION_COOKIE, SESSION_SECONDS, sessionCookie, sessionValue } from "../../src/server/access.js";
import { actualState, deployment, desiredState } from "../support/resources-fixture.js";
import { NOW, scenarioModel, scenarioReport } from "../report/scenario.js";

const ALL: PageFilter = { env: "", app: "", status: "", health: "" };

function prodView(report: DriftReport | null = scenarioReport()): EnvView {
  const model = scenarioModel();
  const env = model.environments[0]!;
  // a gray release of billing: 10% to 2.2.0 (vm-1 still runs it), 90% to 2.3.0
  env.traffic = [{ service: "billing", split: [{ version: "2.2.0", weight: 10 }, { version: "2.3.0", weight: 90 }], timeoutMs: null, retries: null, circuitBreaker: null, outlierDetection: null, rateLimit: null }];
  return { name: "prod", report, config: { env, apps: model.apps } };
}

function run(): RunRecord {
  const task = (n: number, app: string, start: string, end: string, state: "succeeded" | "failed") => ({
    id: `r-1.${n}`, runId: "r-1", kind: "deploy" as const, target: "legacy/vm-1", app, wave: 1, keys: [], state, result: state === "succeeded" ? ("changed" as const) : null,
    message: state === "failed" ? "vm-1 deploy billing@2.3.0 failed: sha256 mismatch" : "deployed", createdAt: start, startedAt: start, endedAt: end, output: [],
  });
  return {
    apiVersion: "amphi.dev/v1", kind: "Run", id: "r-1", env: "prod", revision: "3f1a9c0d2b7e4f6a", source: "repo@3f1a", state: "failed",
    createdAt: "2026-01-02T03:00:00.000Z", startedAt: "2026-01-02T03:00:00.000Z", endedAt: "2026-01-02T03:00:10.000Z",
    summary: { create: 0, update: 2, delete: 0, unchanged: 3, unknown: 0 }, message: "1 succeeded, 1 failed", pid: 1,
    tasks: [task(1, "catalog", "2026-01-02T03:00:00.000Z", "2026-01-02T03:00:02.500Z", "succeeded"), task(2, "billing", "2026-01-02T03:00:02.500Z", "2026-01-02T03:00:10.000Z", "failed")],
  };
}

function page(views: EnvView[], filter: Partial<PageFilter> = {}, scope: string | null = null): string {
  return renderFleetPage({ views, runs: [run()], scope, filter: { ...ALL, ...filter }, refreshSeconds: 15, now: NOW });
}

/** The matrix rows of the page's section of `env`: app → the row's HTML. */
function matrixRows(html: string, env: string): Map<string, string> {
  const section = new RegExp(`<section class="env" id="env-${env}" data-env="${env}">([\\s\\S]*?)</section>\\n(?:<section class="env"|<section class="timeline")`).exec(html)?.[1] ?? "";
  return new Map([...section.matchAll(/<tr data-app="([^"]*)">([\s\S]*?)<\/tr>/g)].map((m) => [m[1]!, m[2]!]));
}

test("every app × target cell is on the page with its status, health and version", () => {
  const report = scenarioReport();
  const html = page([prodView(report)]);
  const rows = matrixRows(html, "prod");
  assert.deepEqual([...rows.keys()], ["billing", "catalog", "report", "user", "web", ""]);
  const matrix = buildMatrix(report);
  for (const r of report.rows) {
    const c = columnOf(r);
    const cell = cellOf(matrix, r.app, matrix.columns.find((x) => x.id === c.id && x.kind === c.kind)!)!;
    const m = new RegExp(`data-column="${c.id}" data-status="${cell.status}" data-health="${cell.health}" data-version="([^"]*)"`).exec(rows.get(r.app ?? "") ?? "");
    assert.ok(m, `cell ${r.app} × ${c.id}`);
    if (r.version) assert.ok(m[1]!.split(", ").includes(r.version), `${r.app} on ${r.target} shows ${r.version}`);
  }
  // user in eu1 still runs 1.4.1 (the rollout to 1.4.2 is under way): the page says what runs, not what is wanted
  assert.match(rows.get("user")!, /data-column="eu1" data-status="drifted" data-health="progressing" data-version="1.4.1"/);
  // the details list every row that is not in sync and healthy, with the check that decided a VM's health
  assert.match(html, /degraded<br><span class="muted">catalog: process check: stopped<\/span>/);
});

test("scripts off: the page has no script, no handler, no external asset, and refreshes itself", () => {
  const html = page([prodView()]);
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /\bon[a-z]+\s*=/i);
  assert.doesNotMatch(html, /<(link|img|iframe|object|embed)\b/i);
  assert.doesNotMatch(html, /(src|href|action)\s*=\s*["']?\s*(https?:)?\/\//i, "every link stays on this origin");
  assert.match(html, /<meta http-equiv="refresh" content="15">/);
  assert.equal(PAGE_CSP, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  // filters are a plain GET form
  assert.match(html, /<form class="filters" method="get" action="\/">/);
});

test("filters: by status, health and app name, and by environment; the form keeps what was chosen", () => {
  const staging: EnvView = { ...prodView(), name: "staging", report: { ...scenarioReport(), env: "staging" } };
  const both = [prodView(), staging];
  const drifted = matrixRows(page(both, { status: "missing" }), "prod");
  assert.deepEqual([...drifted.keys()], [""], "only the host rules have a missing row (vm-2's capture rules)");
  assert.deepEqual([...matrixRows(page(both, { health: "degraded" }), "prod").keys()], ["catalog"]);
  assert.deepEqual([...matrixRows(page(both, { app: "CAT" }), "prod").keys()], ["catalog"], "case-insensitive, contains");
  assert.deepEqual([...matrixRows(page(both, { status: "not-in-sync", app: "b" }), "prod").keys()], ["billing", "web"]);
  const inSync = page(both, { status: "in-sync" });
  assert.deepEqual([...matrixRows(inSync, "prod").keys()], ["billing", "catalog", ""]);
  const onlyStaging = page(both, { env: "staging" });
  assert.doesNotMatch(onlyStaging, /id="env-prod"/);
  assert.match(onlyStaging, /id="env-staging"/);
  assert.match(onlyStaging, /<option value="staging" selected>staging<\/option>/);
  const chosen = page(both, { app: "cat", status: "drifted" });
  assert.match(chosen, /<input type="search" name="app" value="cat"/);
  assert.match(chosen, /<option value="drifted" selected>drifted<\/option>/);
  assert.match(page(both, { app: "cat" }), /1 of 6 rows shown \(filtered\)/);
  // on /env/<env> the environment is the path's
  const scoped = page(both, {}, "staging");
  assert.match(scoped, /<form class="filters" method="get" action="\/env\/staging">/);
  assert.doesNotMatch(scoped, /<select name="env">/);
});

test("a bad filter value is an error naming the parameter and what it may be", () => {
  const q = (s: string) => readPageFilter(new URLSearchParams(s), ["prod", "staging"], null);
  assert.equal(q("status=drifted&app=x").error, null);
  assert.deepEqual(q("status=drifted&app=x").filter, { env: "", app: "x", status: "drifted", health: "" });
  assert.match(q("status=green").error!, /^status=green is not a status \(one of not-in-sync, in-sync, drifted, missing, unexpected, unknown\)$/);
  assert.match(q("health=ok").error!, /health=ok is not a health/);
  assert.match(q("env=prdo").error!, /env=prdo is not served here \(served: prod, staging\)/);
  assert.equal(readPageFilter(new URLSearchParams("env=prdo"), ["prod"], "prod").filter.env, "prod", "the path's environment wins");
});

test("before the first cycle an environment says 'no cycle yet', not an empty green matrix", () => {
  const html = page([prodView(null)]);
  assert.match(html, /data-state="no-cycle"/);
  assert.match(html, /No cycle yet: the first cycle of prod has not reported/);
  assert.doesNotMatch(html, /<table class="matrix"/);
  assert.doesNotMatch(html, /class="s-in-sync"/);
  const fleet = new FleetState(["prod", "dev"]);
  assert.deepEqual(fleet.list().map((v) => [v.name, v.report]), [["dev", null], ["prod", null]]);
  const older = { ...scenarioReport(), generatedAt: "2026-01-01T00:00:00.000Z" };
  fleet.reported("prod", scenarioReport());
  fleet.reported("prod", older);
  assert.equal(fleet.list()[1]!.report!.generatedAt, NOW.toISOString(), "an older report never replaces a newer one");
});

test("topology: namespaces of clusters, hosts of host groups with versions, and a split's versions side by side", () => {
  const html = page([prodView()]);
  assert.match(html, /<div class="box" data-cluster="eu1"><h3>cluster eu1<\/h3><div class="ns"><h4>namespace shop<\/h4>/);
  assert.match(html, /<li class="chip s-drifted h-progressing" data-app="user" data-target="eu1"[^>]*>user <code>1\.4\.1<\/code><\/li>/);
  assert.match(html, /<div class="ns" data-host="legacy\/vm-1"><h4>host vm-1<\/h4>[\s\S]*?data-app="billing" data-target="legacy\/vm-1"[^>]*>billing <code>2\.2\.0<\/code>/);
  const split = /<tr data-service="billing">([\s\S]*?)<\/tr>/.exec(html)?.[1] ?? "";
  assert.match(split, /<b>2\.2\.0<\/b> 10%<br><span class="muted">legacy\/vm-1<\/span>/);
  assert.match(split, /<b>2\.3\.0<\/b> 90%<br><span class="muted">legacy\/vm-2<\/span>/);
});

test("run timeline: each run links to /v1/runs/:id, its tasks with results, durations and bars on the run's time axis", () => {
  const html = page([prodView()]);
  assert.match(html, /<li class="run r-failed" data-run="r-1"><div class="rh"><a href="\/v1\/runs\/r-1"><code>r-1<\/code><\/a> <b>prod<\/b> <span class="state">failed<\/span>/);
  assert.match(html, /10\.0 s · 0 create · 2 update · 0 delete/);
  assert.match(html, /<tr class="t-succeeded" data-task="r-1\.1"[^>]*><td><code>r-1\.1<\/code><\/td><td>deploy<\/td><td>legacy\/vm-1<\/td><td>catalog<\/td><td>succeeded \(changed\)<\/td><td>2\.5 s<\/td><td class="tl"><div class="track"><div class="bar t-succeeded" style="margin-left:0\.0%;width:25\.0%">/);
  assert.match(html, /data-task="r-1\.2" title="vm-1 deploy billing@2\.3\.0 failed: sha256 mismatch">[\s\S]*?<td>7\.5 s<\/td>[\s\S]*?margin-left:25\.0%;width:75\.0%/);
  assert.match(renderFleetPage({ views: [prodView()], runs: [], scope: null, filter: ALL, refreshSeconds: 15, now: NOW }), /No runs recorded yet/);
  // a run of many tasks shows the first 100 and links to the rest
  const big = run();
  big.tasks = Array.from({ length: 250 }, (_, i) => ({ ...big.tasks[0]!, id: `r-1.${i + 1}` }));
  const many = renderFleetPage({ views: [prodView()], runs: [big], scope: null, filter: ALL, refreshSeconds: 15, now: NOW });
  assert.equal((many.match(/<tr class="t-succeeded" data-task=/g) ?? []).length, 100);
  assert.match(many, /150 more tasks: see <a href="\/v1\/runs\/r-1">\/v1\/runs\/r-1<\/a>/);
});

test("names are escaped everywhere on the page", () => {
  const evil = 'x<script>alert("hi")</script>';
  const desired = desiredState([deployment({ app: evil })]);
  const actual = actualState([]);
  const report = buildDriftReport({ desired, actual, plan: buildPlan(diff(desired, actual, { ignore: [] }), {}, null), revision: null, now: NOW });
  const html = page([{ name: "prod", report, config: null }], { app: evil });
  assert.doesNotMatch(html, /<script/);
  assert.ok(html.includes('value="x&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt;"'));
});

test("access: off loopback the page needs the token (Bearer or the session cookie); the cookie only reads", () => {
  const token = "page-token-for-tests-0123456789";
  const remote = "203.0.113.7";
  const now = Date.parse("2026-12-05T12:00:00Z");
  const access = (path: string, address: string, headers: IncomingHttpHeaders, tok: string | null, method = "GET") => checkApiAccess(path, address, headers, tok, method, now);
  const cookie = { cookie: `other=1; ${SESSION_COOKIE}=${sessionValue(token, now - 60_000)}` };
  assert.equal(access("/", "127.0.0.1", {}, token), null, "loopback: open");
  const none = access("/", remote, {}, token)!;
  assert.equal(none.status, 401);
  assert.equal(none.page, true);
  assert.equal(access("/env/prod", remote, {}, null)?.status, 403, "no token configured: refused outright");
  assert.equal(access("/", remote, { authorization: `Bearer ${token}` }, token), null);
  assert.equal(access("/env/prod", remote, cookie, token), null);
  assert.equal(access("/env/prod", remote, cookie, token, "HEAD"), null, "HEAD reads like GET");
  assert.equal(access("/v1/runs/r-1", remote, cookie, token, "GET"), null, "the runs the page links to");
  assert.equal(access("/v1/runs", remote, cookie, token, "POST")?.status, 401, "the cookie never starts a run");
  assert.equal(access("/", remote, { cookie: `${SESSION_COOKIE}=${token}` }, token)?.status, 401, "the token itself is not the session");
  assert.equal(access("/", remote, { cookie: `${SESSION_COOKIE}=${sessionValue("another-token-0123456789", now)}` }, token)?.status, 401);
  assert.equal(access("/", "127.0.0.1", { "x-forwarded-for": "203.0.113.9" }, token)?.status, 401, "a proxied request is remote");
  assert.equal(access("/login", remote, {}, token), null, "the sign-in form is open");
});

test("access: the session cookie is refused 12 hours after it was issued, and when its issue time or MAC was altered", () => {
  const token = "page-token-for-tests-0123456789";
  const remote = "203.0.113.7";
  const issued = Date.parse("2026-12-05T00:00:00Z");
  const at = (value: string, nowMs: number) => checkApiAccess("/", remote, { cookie: `${SESSION_COOKIE}=${value}` }, token, "GET", nowMs);
  const value = sessionValue(token, issued);
  assert.equal(at(value, issued), null);
  assert.equal(at(value, issued + SESSION_SECONDS * 1000), null, "good for exactly 12 hours");
  const late = at(value, issued + SESSION_SECONDS * 1000 + 1000);
  assert.equal(late?.status, 401, "a second after 12 hours: refused, whatever the browser still sends");
  assert.match(late!.error, /your session has expired: sign in again/);
  assert.equal(at(value, issued + 30 * 86_400_000)?.status, 401, "a stolen cookie does not work forever");
  // Re-dating a stolen cookie: the MAC covers the issue time.
  const [, mac] = value.split(".");
  const redated = `${Math.floor((issued + 86_400_000) / 1000)}.${mac}`;
  const forged = at(redated, issued + 86_400_000);
  assert.equal(forged?.status, 401);
  assert.match(forged!.error, /your session cookie is not valid/);
  const flipped = `${value.slice(0, -1)}${value.endsWith("A") ? "B" : "A"}`;
  assert.equal(at(flipped, issued)?.status, 401, "one character of the MAC changed");
  assert.equal(at(value, issued - 10 * 60_000)?.status, 401, "issued in the future (beyond a minute of clock skew)");
  // The cookie of the first version (an HMAC of a fixed label, no time in it) opened the page forever: refused now.
  const v1 = createHmac("sha256", token).update("amphi fleet page session v1").digest("base64url");
  assert.equal(at(v1, issued)?.status, 401);
  for (const junk of ["", ".", "1.", `.${mac}`, `-5.${mac}`, `1e9.${mac}`, `${"9".repeat(20)}.${mac}`]) assert.equal(at(junk, issued)?.status, 401, junk);
  assert.equal(readSession(value, token, issued), "ok");
  assert.equal(readSession(value, "another-token-0123456789", issued), "invalid", "another token's key");
});

test("session cookie: HttpOnly, SameSite=Strict, Path=/, Max-Age 12 h; Secure when the request came over TLS", () => {
  const token = "page-token-for-tests-0123456789";
  const now = Date.parse("2026-12-05T12:00:00Z");
  assert.equal(sessionCookie(token, now, false), `${SESSION_COOKIE}=${sessionValue(token, now)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200`);
  assert.match(sessionCookie(token, now, true), /; Max-Age=43200; Secure$/);
  assert.equal(overTls(false, {}), false);
  assert.equal(overTls(true, {}), true, "a TLS socket");
  assert.equal(overTls(false, { "x-forwarded-proto": "https" }), true, "a TLS proxy in front");
  assert.equal(overTls(false, { "x-forwarded-proto": "https, http" }), true, "the first proxy's view counts");
  assert.equal(overTls(false, { "x-forwarded-proto": "http" }), false);
  assert.equal(overTls(false, { forwarded: 'for=192.0.2.60;proto=https;by=203.0.113.43' }), true);
  assert.equal(overTls(false, { forwarded: "for=192.0.2.60;proto=http" }), false);
});
