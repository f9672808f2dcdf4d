// The HTML drift report in a real browser: the golden scenario (scenario.ts) rendered by formatDriftHtml,
// opened in headless Chromium (Debian's `chromium`, installed by scripts/install-test-deps.sh) through
// test/support/browser.ts (the browser the other page tests of this process share). The DOM after load
// (what `chromium --dump-dom` prints: page.content()) has the matrix with a cell per app × target and the details
// with a row each, and nothing but what the formatter wrote (no script element; the report's CSP forbids scripts
// anyway). A screenshot (1280×2000) goes to a temp directory, printed and kept with AMPHI_TEST_KEEP: the artifact to
// look at. Skipped without chromium, except in CI (CI=true), where it must run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { formatDriftHtml } from "../../src/report/index.js";
import { browserSkip, launchBrowser, openPage } from "../support/browser.js";
import { scenarioReport } from "./scenario.js";

const TIMEOUT_MS = 60_000;

function count(text: string, re: RegExp): number {
  return (text.match(re) ?? []).length;
}

test("the HTML report renders in headless Chromium: one matrix with a cell per app × target and a details row per report row, no script; screenshot", { skip: browserSkip, timeout: 3 * TIMEOUT_MS }, async (t) => {
  const report = scenarioReport();
  const html = formatDriftHtml(report);
  const dir = mkdtempSync(join(tmpdir(), "amphi-report-chromium-"));
  const file = join(dir, "drift.html");
  writeFileSync(file, html);
  const url = pathToFileURL(file).href;
  // The page and its screenshot are removed afterwards unless AMPHI_TEST_KEEP is set (to look at the picture).
  if (!process.env.AMPHI_TEST_KEEP) t.after(() => rmSync(dir, { recursive: true, force: true }));

  const shared = await launchBrowser();
  t.after(() => shared.close());
  const { page, context } = await openPage(shared.browser, url, { viewport: { width: 1280, height: 2000 } });
  t.after(() => context.close());
  const dom = await page.content();
  assert.match(dom, /<title>amphi drift — prod<\/title>/);
  assert.equal(count(dom, /<script\b/gi), 0, "no script element");
  // The DOM has exactly the tables, rows and cells the formatter wrote (nothing added, nothing dropped).
  for (const tag of ["table", "tr", "td", "th"]) {
    const re = new RegExp(`<${tag}\\b`, "g");
    assert.equal(count(dom, re), count(html, re), `<${tag}> elements`);
  }
  assert.ok(count(dom, /<table\b/g) > 0);
  // One matrix: a row per app, a cell per app × column with the report rows' status; then a details row per report row.
  assert.equal(count(dom, /<table class="matrix"/g), 1);
  const rows = new Map([...dom.matchAll(/<tr data-app="([^"]*)">([\s\S]*?)<\/tr>/g)].map((m) => [m[1]!, m[2]!]));
  for (const app of ["billing", "catalog", "report", "user", "web"]) assert.ok(rows.has(app), `a matrix row for ${app}: ${[...rows.keys()].join(", ")}`);
  for (const r of report.rows) {
    if (r.app === null) continue;
    const column = r.runtime === "k8s" ? r.target : r.target.split("/")[0]!;
    assert.match(rows.get(r.app) ?? "", new RegExp(`data-column="${column}" data-status="[a-z-]+"`), `a cell for ${r.app} on ${column}`);
    assert.ok(dom.includes(`<td>${r.app}</td><td>${r.target}</td><td>${r.runtime}</td><td class="s-${r.status}">${r.status}</td>`), `a details row for ${r.app} on ${r.target} (${r.status})`);
  }

  const png = join(dir, "drift.png");
  await page.screenshot({ path: png, timeout: TIMEOUT_MS });
  const image = readFileSync(png);
  assert.deepEqual([...image.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
  assert.equal(image.readUInt32BE(16), 1280, "width");
  assert.equal(image.readUInt32BE(20), 2000, "height");
  // A blank page compresses to a few KB; the tables, text and colours make far more.
  assert.ok(image.length > 30_000, `screenshot of ${image.length} bytes looks blank`);
  console.log(`HTML report screenshot: ${png}${process.env.AMPHI_TEST_KEEP ? " (kept)" : " (removed; AMPHI_TEST_KEEP=1 keeps it)"}`);
});
