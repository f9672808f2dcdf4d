// Bench of the mesh graph: a generated fleet (test/report/mesh-graph-fleet.ts) of N apps → graph input →
// dagre layout → SVG. Prints the time of each step, the size of the SVG and the load average beside it
// (the machine is shared: read the numbers with the load). Run: node --import tsx bench/page/graph.ts [N…]
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { meshGraphInput, meshGraphSvg } from "../../src/report/mesh-graph.js";
import { meshFleet } from "../../test/report/mesh-graph-fleet.js";

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const RUNS = Number(process.env.RUNS ?? 3);

for (const n of sizes.length > 0 ? sizes : [200, 1000]) {
  const model = meshFleet(n);
  for (let run = 1; run <= RUNS; run++) {
    const t0 = performance.now();
    const input = meshGraphInput(model, "prod");
    const t1 = performance.now();
    const svg = meshGraphSvg(input);
    const t2 = performance.now();
    const load = loadavg().map((l) => l.toFixed(2)).join(" ");
    console.log(`apps ${n} run ${run}: input ${(t1 - t0).toFixed(1)} ms, layout+svg ${(t2 - t1).toFixed(1)} ms, ${input.nodes.length} nodes, ${input.edges.length} edges, svg ${(svg.length / 1024).toFixed(0)} KiB (load ${load})`);
  }
}
