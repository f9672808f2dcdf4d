// Bench of the mesh graph: a generated fleet (test/report/mesh-graph-fleet.ts) of N apps → graph input →
// dagre layout → SVG. "cold" lays out afresh (a new config); "warm" re-draws the same config with other live
// data (every node's health and counts change), which reuses the kept layout — what a page refreshed each
// cycle does. Prints wall and CPU time of each step and the load average beside them (the machine is shared:
// read the numbers with the load; cold and warm alternate, so their ratio is measured under the same load).
// Run: node --import tsx bench/page/graph.ts [N…]   (RUNS=3 by default)
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { meshGraphInput, meshGraphSvg } from "../../src/report/mesh-graph.js";
import type { PodRegistration } from "../../src/model/index.js";
import { meshFleet } from "../../test/report/mesh-graph-fleet.js";

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const RUNS = Number(process.env.RUNS ?? 3);

function timed<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

const ms = (t: { wall: number; cpu: number }) => `${t.wall.toFixed(0)} ms (cpu ${t.cpu.toFixed(0)})`;

for (const n of sizes.length > 0 ? sizes : [200, 1000]) {
  const model = meshFleet(n);
  for (let run = 1; run <= RUNS; run++) {
    const input = timed(() => meshGraphInput(model, "prod"));
    const cold = timed(() => meshGraphSvg(input.value, { cache: false }));
    meshGraphSvg(input.value); // fills the cache
    const pods: PodRegistration[] = model.apps.map((a, i) => ({
      node: "amphi-k8s-eu1", id: `${a.name}-${run}`, service: a.name, app: a.name, env: "prod", cluster: "eu1", namespace: "shop", pod: `${a.name}-${run}`,
      address: "10.1.0.1", port: 80, version: "1", tags: [], meta: {}, check: (i + run) % 5 === 0 ? "critical" : "passing",
    }));
    const liveInput = timed(() => meshGraphInput(model, "prod", { pods }));
    const warm = timed(() => meshGraphSvg(liveInput.value));
    const load = loadavg().map((l) => l.toFixed(1)).join(" ");
    console.log(
      `apps ${n} run ${run}: input ${ms(input)}, cold layout+svg ${ms(cold)}, live input ${ms(liveInput)}, warm svg ${ms(warm)}; ` +
        `${input.value.nodes.length} nodes, ${input.value.edges.length} edges, svg ${(cold.value.length / 1024).toFixed(0)} KiB (load ${load})`,
    );
  }
}
