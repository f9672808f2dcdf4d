// The fleet page and the cycle's HTML report in headless Chromium (test/support/browser.ts's launchBrowser:
// Debian's /usr/bin/chromium driven by playwright-core), against a real `amphi serve` of the example's local environment, with JavaScript off:
// DOM checks (every app × target cell of the cycle's own JSON report is there with its status and version),
// the filter form works by a plain GET submit, no request goes to any other origin (the browser's request log),
// and screenshots are kept in .test-build/screenshots/page-browser/ (gitignored, replaced by each run, path printed). Skipped without
// chromium, except in CI (CI=true), where it must run.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { buildMatrix, cellOf, type DriftReport } from "../../src/report/index.js";
import { loadModel } from "../../src/config/index.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { findEnvironment } from "../../src/model/index.js";
import { loopRepo, type LoopRepo } from "../loop/support.js";
import { browserSkip, CHROMIUM, launchBrowser, type SharedBrowser } from "../support/browser.js";
import { eventually, http, serve, type Serving } from "./support.js";

describe("the fleet page in Chromium, scripts off", { skip: browserSkip, timeout: 300_000 }, () => {
  let repo: LoopRepo;
  let srv: Serving;
  let browser: SharedBrowser | undefined;
  let context: BrowserContext;
  let shots: string;
  const requests: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: CI must install it (scripts/install-test-deps.sh)`);
    shots = join(new URL("../..", import.meta.url).pathname, ".test-build", "screenshots", "page-browser");
    rmSync(shots, { recursive: true, force: true });
    mkdirSync(shots, { recursive: true });
    repo = await loopRepo("amphi-page-browser");
    srv = await serve(["--repo", repo.dir, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h"], repo.dir);
    await eventually(async () => (/local (applied|in-sync) \(start\)/.test(srv.log()) ? true : undefined), 90_000, "the first cycle");
    browser = await launchBrowser();
    context = await browser.browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 1000 } });
    context.on("request", (r) => void requests.push(r.url()));
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    if (srv) assert.equal(await srv.stop(), 0);
    await repo?.cleanup();
    if (shots) console.log(`# fleet page screenshots kept in ${shots}`);
  });

  /** The cycle's own report (the JSON file written beside the HTML one). */
  function cycleReport(): DriftReport {
    return JSON.parse(readFileSync(join(repo.dir, ".amphi/reports/local/latest.json"), "utf8")) as DriftReport;
  }

  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    const res = await page.goto(`${srv.url}${path}`, { waitUntil: "load" });
    assert.equal(res?.status(), 200, path);
    return page;
  }

  test("every app × target cell of the cycle's report, with its status and version; nothing from another origin; screenshot", async () => {
    await eventually(async () => ((await http(`${srv.url}/`)).text.includes('class="matrix"') ? true : undefined), 30_000, "the first report on the page");
    const page = await open("/");
    const report = cycleReport();
    const matrix = buildMatrix(report);
    assert.ok(matrix.apps.length >= 2 && matrix.columns.length >= 1);
    for (const app of matrix.apps) {
      for (const col of matrix.columns) {
        const cell = cellOf(matrix, app, col);
        const td = page.locator(`section[data-env="local"] table.matrix tr[data-app="${app ?? ""}"] td[data-column="${col.id}"]`);
        assert.equal(await td.count(), 1, `cell ${app} × ${col.id}`);
        if (!cell) continue;
        assert.equal(await td.getAttribute("data-status"), cell.status);
        assert.equal(await td.getAttribute("data-version"), cell.versions.map((v) => v.version).join(", "));
        const text = await td.innerText();
        assert.ok(text.includes(cell.status) && cell.versions.every((v) => text.includes(v.version)), `${app} × ${col.id} shows ${cell.status} and its versions: ${text}`);
      }
    }
    // The header stays in view while the matrix scrolls; columns keep fixed widths.
    assert.equal(await page.locator("table.matrix thead th").first().evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { position: string } }).getComputedStyle(e).position), "sticky");
    assert.equal(await page.locator("table.matrix").evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { tableLayout: string } }).getComputedStyle(e).tableLayout), "fixed");
    assert.ok((await page.locator("li.run a[href^='/v1/runs/']").count()) >= 1, "the run timeline links to /v1/runs/:id");
    assert.equal(await page.locator("script").count(), 0);
    await page.screenshot({ path: join(shots, "fleet.png"), fullPage: true });
    const origin = new URL(srv.url).origin;
    const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("file:"));
    assert.deepEqual(foreign, [], "no request to any other origin");
    await page.close();
  });

  test("the filter form works with scripts off: a GET submit narrows the matrix to the apps named", async () => {
    const page = await open("/");
    await page.fill('form.filters input[name="app"]', "cata");
    await Promise.all([page.waitForURL(/app=cata/), page.click('form.filters button[type="submit"]')]);
    const apps = await page.locator('section[data-env="local"] table.matrix tbody tr[data-app]').evaluateAll((trs) => trs.map((t) => t.getAttribute("data-app")));
    assert.deepEqual(apps, ["catalog"]);
    assert.equal(await page.inputValue('form.filters input[name="app"]'), "cata", "the form keeps the filter");
    await page.screenshot({ path: join(shots, "fleet-filtered.png") });
    await page.close();
  });

  test("the mesh graph, on the page and in the cycle's report file: a node per app placed in the environment (and what it depends on), an arrow per dependsOn", async () => {
    const model = await loadModel(new DirSource(repo.dir));
    const env = findEnvironment(model, "local");
    const placed = new Set(env.placements.map((p) => p.app));
    const apps = new Map(model.apps.map((a) => [a.name, a]));
    const wantNodes = [...new Set([...placed].flatMap((a) => [a, ...(apps.get(a)?.dependsOn ?? [])]))].sort();
    const wantEdges = [...placed].flatMap((a) => (apps.get(a)?.dependsOn ?? []).map((d) => `${a}->${d}`)).sort();
    assert.ok(wantNodes.length >= 2, "the example places apps in local");
    for (const url of [`${srv.url}/env/local`, pathToFileURL(join(repo.dir, ".amphi/reports/local/latest.html")).href]) {
      const page = await context.newPage();
      await page.goto(url, { waitUntil: "load" });
      const nodes = (await page.locator("svg.mesh-graph [data-service]").evaluateAll((els) => els.map((e) => e.getAttribute("data-service") ?? ""))).sort();
      const edges = (await page.locator("svg.mesh-graph [data-from]").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-from")}->${e.getAttribute("data-to")}`))).sort();
      assert.deepEqual(nodes, wantNodes, `${url}: nodes`);
      assert.deepEqual(edges, wantEdges, `${url}: edges`);
      await page.screenshot({ path: join(shots, url.startsWith("file:") ? "report-graph.png" : "fleet-graph.png"), fullPage: true });
      await page.close();
    }
  });

  test("the cycle's HTML report file: the same matrix, self-contained (no request beyond the file)", async () => {
    const file = join(repo.dir, ".amphi/reports/local/latest.html");
    const before = requests.length;
    const page = await context.newPage();
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    const matrix = buildMatrix(cycleReport());
    for (const app of matrix.apps) for (const col of matrix.columns) assert.equal(await page.locator(`table.matrix tr[data-app="${app ?? ""}"] td[data-column="${col.id}"]`).count(), 1);
    assert.deepEqual(requests.slice(before).filter((u) => !u.startsWith("file:")), [], "the report loads nothing");
    // Tiles as drawn: a count above zero in its colour, a zero neutral (the example's first cycle: all in sync, none drifted).
    const background = (label: string) =>
      page.locator("ul.counts li", { hasText: label }).evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(e).backgroundColor);
    assert.equal(await background("in sync"), "rgb(218, 251, 225)");
    assert.equal(await background("drifted"), "rgba(0, 0, 0, 0)");
    await page.screenshot({ path: join(shots, "report.png"), fullPage: true });
    await page.close();
  });
});
