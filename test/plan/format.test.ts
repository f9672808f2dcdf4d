// Plan formatters: golden files for text, JSON and Markdown (UPDATE_GOLDEN=1 refreshes them), the
// shared one-line step format, value shortening, Markdown escaping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { buildPlan } from "../../src/plan/index.js";
import { formatPlanJson, formatPlanMarkdown, formatPlanText, formatStep } from "../../src/plan/format.js";
import { codeSpan } from "../../src/plan/format-markdown.js";
import { formatField, formatValue } from "../../src/plan/format-value.js";
import type { Plan, PlanStep } from "../../src/model/index.js";
import { assertGolden } from "../support/golden.js";
import { OLD_SECRET_VALUE, SECRET_VALUE, SHA_A, SHA_B } from "../support/resources-fixture.js";
import { DEPS, REVISION, scenarioDiff, upToDateDiff } from "./scenario.js";

const golden = (name: string) => fileURLToPath(new URL(`./golden/${name}`, import.meta.url));
const plan = () => buildPlan(scenarioDiff(), DEPS, REVISION);

test("text format (golden plan.txt)", () => assertGolden(golden("plan.txt"), formatPlanText(plan())));
test("JSON format (golden plan.json)", () => assertGolden(golden("plan.json"), formatPlanJson(plan())));
test("Markdown format (golden plan.md)", () => assertGolden(golden("plan.md"), formatPlanMarkdown(plan())));
test("no changes (golden no-changes.txt)", () => assertGolden(golden("no-changes.txt"), formatPlanText(buildPlan(upToDateDiff(), {}, null))));

test("the scenario's secret env values appear in none of the formats", () => {
  for (const out of [formatPlanText(plan()), formatPlanJson(plan()), formatPlanMarkdown(plan())]) {
    assert.ok(out.includes("env[name=DB_PASSWORD].value"), "the secret's change is reported");
    assert.ok(!out.includes(SECRET_VALUE) && !out.includes(OLD_SECRET_VALUE));
  }
});

test("no changes: one summary line in text, 'No changes.' in Markdown, empty steps in JSON", () => {
  const empty = buildPlan(upToDateDiff(), {}, null);
  assert.equal(formatPlanText(empty), "No changes. prod is up to date (3 resources).\n");
  assert.equal(formatPlanMarkdown(empty), "### amphi plan — prod\n\nNo changes. prod is up to date (3 resources).\n");
  const json = JSON.parse(formatPlanJson(empty));
  assert.deepEqual(Object.keys(json), ["apiVersion", "kind", "env", "revision", "summary", "steps", "unknown"]);
  assert.deepEqual([json.steps, json.unknown, json.revision], [[], [], null]);
});

test("JSON keeps full values and leaves out a side that does not exist", () => {
  const steps = JSON.parse(formatPlanJson(plan())).steps as { key: string; fields: { path: string; from?: unknown; to?: unknown }[] }[];
  const billing = steps.find((s) => s.key === "vm/legacy/vm-2/billing")!;
  assert.deepEqual(billing.fields.find((f) => f.path === "sha256"), { path: "sha256", from: SHA_A, to: SHA_B });
  const vm1 = steps.find((s) => s.key === "vm/legacy/vm-1/catalog")!;
  assert.deepEqual(Object.keys(vm1), ["wave", "runtime", "target", "app", "op", "key", "object", "fields"]);
  const added = { path: "x", to: 1 };
  const p: Plan = { ...plan(), steps: [{ ...plan().steps[0]!, fields: [{ path: "x", from: undefined, to: 1 }] }] };
  assert.deepEqual(JSON.parse(formatPlanJson(p)).steps[0].fields, [added]);
});

test("formatStep is one line: wave, runtime, target, app, op, object, changed fields", () => {
  const step: PlanStep = {
    wave: 1, runtime: "vm", target: "legacy/vm-2", app: "billing", op: "update", key: "vm/legacy/vm-2/billing", object: "billing",
    fields: [{ path: "version", from: "2.3.0", to: "2.4.0" }, { path: "sha256", from: SHA_A, to: SHA_B }],
  };
  assert.equal(formatStep(step), "wave 1  vm  legacy/vm-2  billing  update  billing  version 2.3.0→2.4.0; sha256 5d3785d5…→9a0b1c2d…");
  assert.equal(formatStep({ ...step, app: null, op: "create", runtime: "capture", object: "iptables", fields: [] }), "wave 1  capture  legacy/vm-2  -  create  iptables");
});

test("values are shortened: hashes, long strings, multi-line text, secrets, missing sides", () => {
  assert.equal(formatValue(`shop/web@sha256:${SHA_A}`), "shop/web@sha256:5d3785d5…");
  assert.equal(formatValue(`registry.example.com/shop/web@sha256:${SHA_A}`), "registry.example.com…eb@sha256:5d3785d5…");
  assert.equal(formatValue("x".repeat(30) + "y".repeat(30)), "x".repeat(20) + "…" + "y".repeat(19));
  assert.equal(formatValue("node server.mjs 9100"), '"node server.mjs 9100"');
  assert.equal(formatValue(""), '""');
  assert.equal(formatValue(undefined), "(none)");
  assert.equal(formatValue({ a: [1, 2] }), '{"a":[1,2]}');
  assert.equal(formatField({ path: "fragment", from: "a\nb\nc\n", to: "a\nB\nc\nd\n" }), "fragment (3 lines changed: +2 -1)");
  assert.equal(formatField({ path: "env.X", from: "(secret)", to: "(secret)" }), "env.X (secret changed)");
  assert.equal(formatField({ path: "env.X", from: undefined, to: "(secret)" }), "env.X (none)→(secret)");
});

test("Markdown: pipes are escaped in code spans, backticks get a longer fence, long field lists fold", () => {
  assert.equal(codeSpan("a|b"), "`a\\|b`");
  assert.equal(codeSpan("run `x`"), "`` run `x` ``");
  const step = plan().steps.find((s) => s.key === "vm/legacy/vm-2/billing")!;
  assert.ok(step.fields.length > 3);
  const md = formatPlanMarkdown({ ...plan(), steps: [step] });
  assert.match(md, new RegExp(`<details><summary>${step.fields.length} changes</summary>`));
  const rows = md.split("\n").filter((l) => l.startsWith("| vm | legacy/vm-2 | billing | update |"));
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.replace(/\\\|/g, "").split("|").length, 8, "a row has 6 cells");
});
