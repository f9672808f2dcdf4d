// The mesh graph in a real browser (headless Chromium through test/support/browser.ts):
// 1. `amphi drift --format html` on the example config: the report file ends with the graph; its node and edge
//    elements (data-service, data-from/data-to) match the config's placed apps and dependsOn, the policy of
//    the example's `user` service sits on the edge into it, and the page made no request but for itself,
//    with scripts on and off. Screenshots are kept and their paths printed.
// 2. The report scenario with live health: node colours as the browser computes them, boxes apart and every
//    line of text inside its box as rendered with the browser's real font (the layout only estimates widths).
// 3. The page log of test/support/browser.ts: a request to another origin shows in it.
// These share one browser (launchBrowser: a launch is ~3 s of CPU here); the helper's own test, that a hung test
// gets chromium killed, launches its own (withBrowser).
import { after, before, describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { loadModel } from "../../src/config/index.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { findEnvironment } from "../../src/model/index.js";
import { formatDriftHtml, meshGraphInput, STATE_COLOURS } from "../../src/report/index.js";
import { amphi } from "../support/cli.js";
import { artifactDir, browserSkip, launchBrowser, openPage, screenshot, withBrowser, type SharedBrowser } from "../support/browser.js";
import { scenarioActual, scenarioModel, scenarioReport } from "./scenario.js";

const emptyProd = join(import.meta.dirname, "../fixtures/actual/empty-prod.yaml");

interface DomGraph {
  nodes: { service: string; state: string; fill: string; box: { x: number; y: number; width: number; height: number }; texts: { text: string; width: number; x: number }[] }[];
  edges: { from: string; to: string; texts: string[] }[];
}

// What the page's code below uses of SVG elements and the window (the project compiles without DOM types).
type SvgBox = { getBBox(): { x: number; y: number; width: number; height: number } };
type SvgText = { getComputedTextLength(): number };
type Win = { getComputedStyle(el: unknown): { fill: string } };

/** The graph as the browser has it: elements by their data attributes, boxes and text widths as rendered. */
async function domGraph(page: Page): Promise<DomGraph> {
  const nodes = await page.$$eval("svg.mesh-graph [data-service]", (els) =>
    els.map((g) => {
      const rect = g.querySelector("rect")!;
      const b = (rect as unknown as SvgBox).getBBox();
      return {
        service: g.getAttribute("data-service") ?? "",
        state: g.getAttribute("data-state") ?? "",
        fill: (globalThis as unknown as Win).getComputedStyle(rect).fill,
        box: { x: b.x, y: b.y, width: b.width, height: b.height },
        texts: [...g.querySelectorAll("text")].map((t) => ({ text: t.textContent ?? "", width: (t as unknown as SvgText).getComputedTextLength(), x: Number(t.getAttribute("x")) })),
      };
    }),
  );
  const edges = await page.$$eval("svg.mesh-graph [data-from]", (els) =>
    els.map((g) => {
      const [from, to] = [g.getAttribute("data-from") ?? "", g.getAttribute("data-to") ?? ""];
      const label = [...g.ownerDocument.querySelectorAll("[data-label-from]")].find((l) => l.getAttribute("data-label-from") === from && l.getAttribute("data-label-to") === to);
      return { from, to, texts: label ? [...label.querySelectorAll("text")].map((t) => t.textContent ?? "") : [] };
    }),
  );
  return { nodes, edges };
}

function rgb(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
}

describe("the mesh graph in Chromium", { skip: browserSkip, timeout: 300_000 }, () => {
  let shared: SharedBrowser | undefined;
  before(async () => {
    shared = await launchBrowser();
  });
  after(() => shared?.close());
  const browser = () => shared!.browser;

  it("amphi drift --format html ends with the mesh graph: nodes and edges match the config, nothing loaded from elsewhere, scripts on or off", async () => {
    const dir = artifactDir("mesh-graph-report");
    const res = await amphi(["drift", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", emptyProd, "--format", "html", "--out", "drift.html"], dir);
    assert.equal(res.code, 2, res.stderr);
    const url = pathToFileURL(join(dir, "drift.html")).href;
    const model = await loadModel(new DirSource(EXAMPLE_REPO));
    const env = findEnvironment(model, "prod");
    const placed = new Set(env.placements.map((p) => p.app));
    const apps = model.apps.filter((a) => placed.has(a.name));
    const wantNodes = [...new Set([...apps.map((a) => a.name), ...apps.flatMap((a) => a.dependsOn)])].sort();
    const wantEdges = apps.flatMap((a) => a.dependsOn.map((d) => `${a.name}→${d}`)).sort();
    assert.ok(wantEdges.length > 0, "the example has dependencies");
    for (const javaScript of [true, false]) {
      const p = await openPage(browser(), url, { javaScript });
      const graph = await domGraph(p.page);
      assert.deepEqual(graph.nodes.map((n) => n.service), wantNodes, `nodes (scripts ${javaScript ? "on" : "off"})`);
      assert.deepEqual(graph.edges.map((e) => `${e.from}→${e.to}`).sort(), wantEdges, "edges");
      // The example's traffic policy for user (a circuit breaker and a rate limit) is drawn on web → user.
      const userPolicy = env.traffic.find((t) => t.service === "user");
      if (userPolicy && placed.has("web")) assert.ok(graph.edges.find((e) => e.from === "web" && e.to === "user")!.texts.some((t) => t.startsWith("max ")), "circuit breaker on web → user");
      // --actual with no registrations and no report health of running things: nothing is green.
      for (const n of graph.nodes) assert.notEqual(n.state, "passing", n.service);
      assert.deepEqual(p.offOrigin(), [], "no request left the file");
      assert.equal(p.requests.length, 1, `only the page itself: ${p.requests.map((r) => r.url).join(", ")}`);
      assert.deepEqual(p.consoleErrors, [], "nothing refused by the CSP");
      await screenshot(p.page, dir, `drift-report-js-${javaScript ? "on" : "off"}`);
      await p.context.close();
    }
  });

  it("live health in the browser: colours as computed, boxes apart, every line of text inside its box", async () => {
    const dir = artifactDir("mesh-graph-live");
    const model = scenarioModel();
    const report = scenarioReport();
    const html = formatDriftHtml(report, meshGraphInput(model, "prod", { report, actual: scenarioActual() }));
    const file = join(dir, "drift.html");
    writeFileSync(file, html);
    const p = await openPage(browser(), pathToFileURL(file).href, { javaScript: false });
    const graph = await domGraph(p.page);
    const by = new Map(graph.nodes.map((n) => [n.service, n]));
    assert.equal(by.get("catalog")!.state, "critical", "catalog's process on vm-1 is stopped");
    assert.equal(by.get("catalog")!.fill, rgb(STATE_COLOURS.critical.fill));
    assert.equal(by.get("user")!.fill, rgb(STATE_COLOURS.warning.fill));
    for (const n of graph.nodes) {
      for (const t of n.texts) assert.ok(t.x + t.width <= n.box.x + n.box.width, `${n.service}: "${t.text}" (${t.width.toFixed(1)} px) overflows its box (${n.box.width} px)`);
    }
    for (const a of graph.nodes) {
      for (const b of graph.nodes) {
        if (a === b) continue;
        const apart = a.box.x + a.box.width <= b.box.x || b.box.x + b.box.width <= a.box.x || a.box.y + a.box.height <= b.box.y || b.box.y + b.box.height <= a.box.y;
        assert.ok(apart, `${a.service} and ${b.service} overlap`);
      }
    }
    assert.deepEqual(p.offOrigin(), []);
    await screenshot(p.page, dir, "drift-report-live");
    await p.context.close();
  });

  it("the page log: a request to another origin shows in it", async (t) => {
    // Two servers on 127.0.0.1 with their own ports: two origins. The page asks the other one for an image.
    const other = createServer((_, res) => res.writeHead(404).end());
    const pageServer = createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end(`<!DOCTYPE html><p>x</p><img src="http://127.0.0.1:${(other.address() as AddressInfo).port}/pixel.png">`));
    await Promise.all([other, pageServer].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
    t.after(() => {
      other.close();
      pageServer.close();
    });
    const pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`;
    const p = await openPage(browser(), pageUrl, { javaScript: false });
    assert.deepEqual(p.offOrigin().map((r) => new URL(r.url).pathname), ["/pixel.png"]);
    assert.ok(p.requests.some((r) => r.url === pageUrl), "the page itself is logged, and is not off-origin");
    await p.context.close();
  });
});

test("the browser helper: a hung test kills chromium", { skip: browserSkip, timeout: 300_000 }, async () => {
  const hung = await withBrowser(() => new Promise<never>(() => undefined), 2_000).then(
    () => assert.fail("a test that never ends must be stopped"),
    (e: Error) => e,
  );
  const pid = Number(/pid (\d+)/.exec(hung.message)?.[1]);
  assert.ok(pid > 0, hung.message);
  assert.throws(() => process.kill(pid, 0), /ESRCH/, `chromium ${pid} is gone`);
});
