// bench/plan/stages: in-process time of each pipeline stage on a generated repo (where a whole-process
// `amphi plan` spends its time). Usage: node --import tsx bench/plan/stages.ts [apps=1000] [runs=5]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateRepo } from "./generate.js";

const apps = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 5);
const t0 = performance.now();
const { loadModel } = await import("../../src/config/index.js");
const { DirSource } = await import("../../src/adapters/fs/dir-source.js");
const { render } = await import("../../src/render/index.js");
const { diff } = await import("../../src/diff/index.js");
const { buildPlan } = await import("../../src/plan/index.js");
const { formatPlanJson } = await import("../../src/plan/format.js");
console.log(`imports (first, includes tsx transforms): ${(performance.now() - t0).toFixed(0)} ms`);

const dir = generateRepo(mkdtempSync(join(tmpdir(), `amphi-bench-stages-${process.pid}-`)), apps);
try {
  for (let i = 0; i < runs; i++) {
    const t: number[] = [performance.now()];
    const model = await loadModel(new DirSource(dir));
    t.push(performance.now());
    const desired = render(model, "prod");
    t.push(performance.now());
    const actual = { env: "prod", observedAt: null, resources: desired.resources, unreachable: [] };
    const d = diff(desired, actual, { ignore: [] });
    t.push(performance.now());
    const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
    const text = formatPlanJson(buildPlan(d, deps, null));
    t.push(performance.now());
    const ms = t.slice(1).map((x, k) => (x - t[k]!).toFixed(0).padStart(4));
    console.log(`run ${i + 1}: load+validate ${ms[0]} ms  render ${ms[1]} ms (${desired.resources.length} resources)  diff ${ms[2]} ms  plan+json ${ms[3]} ms (${text.length} bytes)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
