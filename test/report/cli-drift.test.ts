// `amphi drift` through the CLI: exit 0 in sync, 2 drifted, 1 on bad input; every format; --out writes the
// file and prints the summary; a live read of the example's local environment (nothing deployed yet).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { amphi } from "../support/cli.js";

const emptyProd = join(import.meta.dirname, "../fixtures/actual/empty-prod.yaml");
const tmp = () => mkdtempSync(join(tmpdir(), `amphi-drift-${process.pid}-`));

test("drift: exit 2 when nothing is deployed, exit 0 when the actual state matches, exit 1 on bad input", async () => {
  const dir = tmp();
  try {
    const empty = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", emptyProd, "--format", "json"]);
    assert.equal(empty.code, 2, empty.stderr);
    const doc = JSON.parse(empty.stdout);
    assert.equal(doc.kind, "DriftReport");
    assert.ok(doc.rows.length > 0 && doc.rows.every((r: { status: string }) => r.status === "missing"));
    const asActual = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", "prod", "--as-actual"]);
    writeFileSync(join(dir, "actual.json"), asActual.stdout);
    const same = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", "actual.json"], dir);
    assert.equal(same.code, 0, same.stderr + same.stdout);
    assert.match(same.stdout, /^amphi drift prod, \d{4}-\d\d-\d\dT/);
    assert.match(same.stdout, /Drift in prod: 4 apps on 6 targets, 14 in sync, 0 drifted, 0 unknown; coverage 100%\.\n$/);
    const badFormat = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "prod", "--format", "pdf"]);
    assert.deepEqual([badFormat.code, /unknown --format "pdf"/.test(badFormat.stderr)], [1, true]);
    const badEnv = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "qa", "--actual", emptyProd]);
    assert.deepEqual([badEnv.code, /unknown environment "qa"/.test(badEnv.stderr)], [1, true]);
    const missing = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", "nope.json"], dir);
    assert.deepEqual([missing.code, /nope\.json: no such file|nope\.json/.test(missing.stderr)], [1, true]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("drift --format html --out FILE writes one self-contained file and prints the summary line", async () => {
  const dir = tmp();
  try {
    const res = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", emptyProd, "--format", "html", "--out", "reports/drift.html"], dir);
    assert.equal(res.code, 2, res.stderr);
    assert.equal(res.stdout, "Drift in prod: 4 apps on 6 targets, 0 in sync, 14 drifted, 0 unknown; coverage 100%. Written to reports/drift.html (html).\n");
    const html = readFileSync(join(dir, "reports/drift.html"), "utf8");
    assert.ok(html.startsWith("<!DOCTYPE html>") && html.includes("<h1>amphi drift — prod</h1>"));
    assert.doesNotMatch(html, /<script|(src|href)=/i);
    const md = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", emptyProd, "--format", "markdown"]);
    assert.match(md.stdout, /^### amphi drift — prod\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("drift reads live state like plan: the example's local environment before anything is deployed", async () => {
  const dir = tmp();
  try {
    const res = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "local", "--format", "json"], dir);
    assert.equal(res.code, 2, res.stderr);
    const doc = JSON.parse(res.stdout);
    assert.deepEqual(
      doc.rows.map((r: { app: string; target: string; status: string; health: string }) => `${r.app} ${r.target} ${r.status} ${r.health}`),
      ["billing here/localhost missing missing", "catalog here/localhost missing missing"],
    );
    assert.equal(doc.summary.coverage, 100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
