// bench/page: server-side render time of the fleet page (and of the HTML drift report) for a generated fleet.
// Usage: node --import tsx bench/page/run.ts [apps=1000] [runs=15]
// The repo is bench/plan/generate.ts's (every app on cluster c1 and on the 4 hosts of host group vms: a matrix of
// N rows × 2 columns over N × 5 report rows); the actual state is the desired one with drift mixed in (every 7th
// app's Deployment runs an older image, every 11th app stopped on vm-1, host vm-3 unreachable), so cells carry
// every status. 20 runs of 40 tasks each make the timeline. Timed: renderFleetPage (all environments, no filter;
// and filtered by health: the apps stopped on vm-1), formatDriftHtml with the mesh graph — each the median of `runs` after one warm-up, in one process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateRepo } from "../plan/generate.js";

const apps = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 15);
const { loadModel } = await import("../../src/config/index.js");
const { DirSource } = await import("../../src/adapters/fs/dir-source.js");
const { render } = await import("../../src/render/index.js");
const { diff } = await import("../../src/diff/index.js");
const { buildPlan } = await import("../../src/plan/index.js");
const { buildDriftReport, formatDriftHtml, meshGraphInput } = await import("../../src/report/index.js");
const { renderFleetPage } = await import("../../src/server/page.js");
type Resource = import("../../src/model/index.js").ActualResource;
type RunRecord = import("../../src/model/index.js").RunRecord;

const dir = generateRepo(mkdtempSync(join(tmpdir(), `amphi-bench-page-${process.pid}-`)), apps);
try {
  const model = await loadModel(new DirSource(dir));
  const env = model.environments.find((e) => e.name === "prod")!;
  const desired = render(model, "prod");
  const resources: Resource[] = [];
  for (const d of desired.resources) {
    if (d.target === "vms/vm-3") continue;
    const r = structuredClone(d) as Resource;
    const i = Number((r.app ?? "app-0").slice(4));
    if (r.runtime === "k8s" && r.object.kind === "Deployment") {
      const c = (r.object as any).spec.template.spec.containers[0];
      if (i % 7 === 0) c.image = c.image.replace(/:1\.0\.(\d+)$/, ":0.9.$1");
      r.object["status"] = { observedGeneration: 0, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };
    }
    if (r.runtime === "vm") r.observed = { process: i % 11 === 0 && r.target === "vms/vm-1" ? "stopped" : "running" };
    if (r.runtime === "consul") r.observed = { check: "passing" };
    resources.push(r);
  }
  const actual = { env: "prod", observedAt: null, resources, unreachable: [{ runtime: "vm" as const, target: "vms/vm-3", reason: "ssh 10.30.0.13:22: connect timed out" }] };
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  const plan = buildPlan(diff(desired, actual, { ignore: [] }), deps, null);
  const now = new Date();
  const report = buildDriftReport({ desired, actual, plan, revision: "0123456789abcdef", now });
  const graph = meshGraphInput(model, "prod", { report, actual });
  const views = [{ name: "prod", report, config: { env, apps: model.apps }, graph }];
  const runRecords: RunRecord[] = Array.from({ length: 20 }, (_, k) => ({
    apiVersion: "amphi.dev/v1", kind: "Run", id: `r-${k}`, env: "prod", revision: null, source: dir, state: "succeeded",
    createdAt: now.toISOString(), startedAt: now.toISOString(), endedAt: new Date(now.getTime() + 60_000).toISOString(),
    summary: { create: 0, update: 40, delete: 0, unchanged: 0, unknown: 0 }, message: "40 succeeded", pid: 1,
    tasks: Array.from({ length: 40 }, (_, t) => ({
      id: `r-${k}.${t}`, runId: `r-${k}`, kind: "deploy" as const, target: "vms/vm-0", app: `app-${t}`, wave: 0, keys: [], state: "succeeded" as const, result: "changed" as const, message: "ok",
      createdAt: now.toISOString(), startedAt: new Date(now.getTime() + t * 1000).toISOString(), endedAt: new Date(now.getTime() + t * 1000 + 900).toISOString(), output: [],
    })),
  }));
  const filter = { env: "", app: "", status: "" as const, health: "" as const };
  // Wall time and this process's CPU time (user + system) per call: on a loaded machine the CPU time says more.
  // The first call is reported apart: it lays out the mesh graph (dagre), which later calls re-bind.
  const time = (f: () => string): { ms: number; cpu: number; bytes: number; firstMs: number } => {
    const f0 = performance.now();
    f();
    const firstMs = performance.now() - f0;
    const t: number[] = [];
    const c: number[] = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      bytes = f().length;
      t.push(performance.now() - t0);
      const used = process.cpuUsage(c0);
      c.push((used.user + used.system) / 1000);
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return { ms: median(t), cpu: median(c), bytes, firstMs };
  };
  // In this order as in amphi serve: the cycle writes its HTML file (laying out the graph) before the page is asked for.
  const html = time(() => formatDriftHtml(report, graph));
  const page = time(() => renderFleetPage({ views, runs: runRecords, scope: null, filter, refreshSeconds: 15, now }));
  const filtered = time(() => renderFleetPage({ views, runs: runRecords, scope: null, filter: { ...filter, health: "degraded" }, refreshSeconds: 15, now }));
  const s = report.summary;
  console.log(`fleet: ${apps} apps, ${report.rows.length} report rows (${s.inSync} in sync, ${s.drifted} drifted, ${s.unknown} unknown), 20 runs × 40 tasks`);
  console.log(`renderFleetPage (all):          median ${page.ms.toFixed(1)} ms wall, ${page.cpu.toFixed(1)} ms CPU of ${runs}, ${(page.bytes / 1024).toFixed(0)} KiB; first render (graph laid out) ${page.firstMs.toFixed(0)} ms wall`);
  console.log(`renderFleetPage (degraded):     median ${filtered.ms.toFixed(1)} ms wall, ${filtered.cpu.toFixed(1)} ms CPU of ${runs}, ${(filtered.bytes / 1024).toFixed(0)} KiB`);
  console.log(`formatDriftHtml:                median ${html.ms.toFixed(1)} ms wall, ${html.cpu.toFixed(1)} ms CPU of ${runs}, ${(html.bytes / 1024).toFixed(0)} KiB; first render (graph laid out) ${html.firstMs.toFixed(0)} ms wall`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
