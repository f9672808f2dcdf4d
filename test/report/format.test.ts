// Drift report formats: golden files for JSON, Markdown, HTML and text (UPDATE_GOLDEN=1 refreshes them);
// secrets in none of them; the HTML is self-contained, script-free and escapes every name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { buildDriftReport, formatDriftHtml, formatDriftJson, formatDriftMarkdown, formatDriftText, type DriftReport } from "../../src/report/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { diff } from "../../src/diff/index.js";
import { assertGolden } from "../support/golden.js";
import { actualState, deployment, desiredState } from "../support/resources-fixture.js";
import { NOW, REVISION, SECRETS, scenarioActual, scenarioDesired, scenarioPlan, scenarioReport } from "./scenario.js";

const golden = (name: string) => fileURLToPath(new URL(`./golden/${name}`, import.meta.url));
const FORMATS: [string, (r: DriftReport) => string][] = [
  ["json", formatDriftJson],
  ["markdown", formatDriftMarkdown],
  ["html", formatDriftHtml],
  ["text", formatDriftText],
];

test("JSON format (golden drift.json)", () => assertGolden(golden("drift.json"), formatDriftJson(scenarioReport())));
test("Markdown format (golden drift.md)", () => assertGolden(golden("drift.md"), formatDriftMarkdown(scenarioReport())));
test("HTML format (golden drift.html)", () => assertGolden(golden("drift.html"), formatDriftHtml(scenarioReport())));
test("text format (golden drift.txt)", () => assertGolden(golden("drift.txt"), formatDriftText(scenarioReport())));

test("JSON keys come in the documented order, and the JSON is the report itself", () => {
  const report = scenarioReport();
  const doc = JSON.parse(formatDriftJson(report));
  assert.deepEqual(Object.keys(doc), ["apiVersion", "kind", "env", "revision", "generatedAt", "summary", "rows"]);
  assert.deepEqual(Object.keys(doc.summary), ["apps", "targets", "inSync", "drifted", "unknown", "coverage"]);
  assert.deepEqual(Object.keys(doc.rows[0]), ["app", "runtime", "target", "status", "health", "healthDetail", "version", "items"]);
  assert.deepEqual(doc, JSON.parse(JSON.stringify(report)));
  const registry = doc.rows.flatMap((r: DriftReport["rows"][number]) => r.items).filter((i: { kind: string }) => i.kind === "registry");
  assert.ok(registry.length > 0 && registry.every((i: object) => Object.keys(i).join() === "kind,object,detail,registry"));
});

test("secret values appear in no format, while their changes are reported", () => {
  for (const [name, format] of FORMATS) {
    const out = format(scenarioReport());
    for (const secret of SECRETS) assert.ok(!out.includes(secret), `${name} contains a secret value`);
    // A pod's secrets changed show on its Secret and pod template (their keyed digests, issue 13).
    assert.ok(out.includes("DB_PASSWORD") && out.includes("amphi-secrets-web"), `${name} names the changed secrets`);
    assert.ok(out.includes("(secret changed)"), name);
  }
});

test("HTML is one self-contained file: no script, no external assets, a restrictive CSP, readable without JS", () => {
  const html = formatDriftHtml(scenarioReport());
  assert.ok(html.startsWith("<!DOCTYPE html>\n"));
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /\bon[a-z]+\s*=/i, "no inline event handlers");
  assert.doesNotMatch(html, /<(link|img|iframe|object|embed)\b/i);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
  assert.doesNotMatch(html, /url\(|@import/i);
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`));
  assert.match(html, /<style>[\s\S]*\.s-drifted[\s\S]*<\/style>/);
  assert.match(html, /<details( open)?><summary>4 items<\/summary>/);
  assert.match(html, /<li class="s-in-sync"><b>3<\/b>in sync<\/li>/);
  assert.match(html, /<b>84\.6%<\/b>coverage/);
  assert.match(html, /<td class="s-missing">missing<\/td>/);
});

test("HTML and Markdown escape names: '<' in an object name never opens a tag", () => {
  const evil = 'x<script>alert("hi")</script>&<b>';
  const desired = desiredState([deployment({ app: evil })]);
  const actual = actualState([]);
  const plan = buildPlan(diff(desired, actual, { ignore: [] }), {}, null);
  const report = buildDriftReport({ desired, actual, plan, revision: null, now: NOW });
  const html = formatDriftHtml(report);
  assert.doesNotMatch(html, /<script|<b>&/);
  assert.ok(html.includes("Deployment/shop/x&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt;&amp;&lt;b&gt;"));
  assert.ok(html.includes('<th scope="row" title="x&lt;script&gt;'), "the matrix row of the app");
  const md = formatDriftMarkdown(report);
  assert.ok(md.includes("#### x\\<script\\>"), md);
  assert.doesNotMatch(md.replace(/`[^`]*`/g, ""), /(?<!\\)<script/, "outside code spans every < is backslash-escaped");
});

test("same input in any order, same bytes out", () => {
  const desired = scenarioDesired();
  const actual = scenarioActual(desired);
  const reversed = { ...desired, resources: [...desired.resources].reverse() };
  const shuffled = { ...actual, resources: [...actual.resources].reverse() };
  const a = buildDriftReport({ desired, actual, plan: scenarioPlan(desired, actual), revision: REVISION, now: NOW });
  const b = buildDriftReport({ desired: reversed, actual: shuffled, plan: scenarioPlan(reversed, shuffled), revision: REVISION, now: NOW });
  for (const [, format] of FORMATS) assert.equal(format(b), format(a));
});

test("an empty environment: no rows, coverage 100, every format says so", () => {
  const report = buildDriftReport({ desired: desiredState([]), actual: actualState([]), plan: buildPlan(diff(desiredState([]), actualState([]), { ignore: [] }), {}, null), revision: null, now: NOW });
  assert.deepEqual(report.summary, { apps: 0, targets: 0, inSync: 0, drifted: 0, unknown: 0, coverage: 100 });
  assert.equal(formatDriftText(report), `amphi drift prod, ${NOW.toISOString()}\n\nDrift in prod: 0 apps on 0 targets, 0 in sync, 0 drifted, 0 unknown; coverage 100%.\n`);
  assert.match(formatDriftHtml(report), /Nothing is desired or found/);
  assert.equal(formatDriftMarkdown(report), `### amphi drift — prod\n\nDrift in prod: 0 apps on 0 targets, 0 in sync, 0 drifted, 0 unknown; coverage 100%. generated ${NOW.toISOString()}.\n`);
});

test("HTML: one matrix table with a cell per app × cluster / host group, each with its status, health and version", async () => {
  const { buildMatrix, cellOf, columnOf } = await import("../../src/report/matrix.js");
  const report = scenarioReport();
  const html = formatDriftHtml(report);
  assert.equal((html.match(/<table class="matrix"/g) ?? []).length, 1, "one matrix, not a table per app");
  const rows = new Map([...html.matchAll(/<tr data-app="([^"]*)">([\s\S]*?)<\/tr>/g)].map((m) => [m[1]!, m[2]!]));
  assert.deepEqual([...rows.keys()], ["billing", "catalog", "report", "user", "web", ""]);
  const heads = [...html.matchAll(/<th scope="col" data-column="([^"]*)" data-kind="([^"]*)"/g)].map((m) => `${m[2]}:${m[1]}`);
  assert.deepEqual(heads, ["cluster:eu1", "hostGroup:legacy"]);
  const matrix = buildMatrix(report);
  for (const r of report.rows) {
    const col = columnOf(r);
    const cell = cellOf(matrix, r.app, matrix.columns.find((c) => c.id === col.id && c.kind === col.kind)!)!;
    const td = new RegExp(`<td class="c s-${cell.status} h-${cell.health}" data-column="${col.id}" data-status="${cell.status}" data-health="${cell.health}" data-version="([^"]*)"`);
    const m = td.exec(rows.get(r.app ?? "")!);
    assert.ok(m, `a cell for ${r.app} on ${col.id}`);
    if (r.version !== null) assert.ok(m[1]!.split(", ").includes(r.version), `${r.app} on ${r.target} runs ${r.version}: ${m[1]}`);
  }
  // billing on the host group: vm-1 drifted at 2.2.0, vm-2 in sync at 2.3.0, vm-3 unreadable and unregistered
  // (drifted, health unknown): the worst status and health, both versions, how many in sync
  assert.match(rows.get("billing")!, /data-column="legacy" data-status="drifted" data-health="unknown" data-version="2.2.0, 2.3.0"[^>]*><b>drifted · unknown<\/b><span class="v">2.2.0 ×1 · 2.3.0 ×1<\/span><span class="n">1\/3 in sync<\/span>/);
  // web has no host: an empty cell, so columns stay aligned
  assert.match(rows.get("web")!, /<td class="c none" data-column="legacy"><\/td>/);
  // the matrix keeps its column widths: fixed layout, one <col> per column
  assert.match(html, /<colgroup><col class="app" style="width:15rem"><col style="width:10.5rem"><col style="width:10.5rem"><\/colgroup>/);
});

test("HTML: zero-count tiles are neutral, not green or red; VM health names the check that decided it", () => {
  const report = scenarioReport();
  const zero = { ...report, summary: { ...report.summary, inSync: 0, drifted: 0, unknown: 0 } };
  const html = formatDriftHtml(zero);
  assert.match(html, /<li><b>0<\/b>in sync<\/li>/);
  assert.match(html, /<li><b>0<\/b>drifted<\/li>/);
  assert.match(html, /<li><b>0<\/b>unknown<\/li>/);
  const full = formatDriftHtml(report);
  assert.match(full, /<li class="s-drifted"><b>9<\/b>drifted<\/li>/);
  assert.match(full, /degraded<br><span class="muted">catalog: process check: stopped<\/span>/);
});
