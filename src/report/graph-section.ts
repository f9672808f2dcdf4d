// The mesh graph of one environment as the fleet page draws it: from the config its newest report was made
// from and that report (health colours, instance counts). The layout is kept by what decides its geometry
// (mesh-graph-layout.ts), so the page re-binds the layout the cycle's report file already computed instead of
// running dagre per request.
import { meshGraphInput } from "./mesh-graph-data.js";
import { meshGraphSection } from "./mesh-graph.js";
import type { AppModel, EnvironmentModel } from "../model/index.js";
import type { DriftReport } from "./model.js";

/** What the graph is drawn from: the environment's report, and its config where the caller has it. */
export interface GraphContext {
  report: DriftReport | null;
  env?: EnvironmentModel;
  apps?: readonly AppModel[];
}

/** The mesh graph section (`<section class="mesh-graph-section">…</section>`), or "" without the config (a
 * graph needs the apps' dependsOn and the environment's placements and traffic policy). */
export function graphSection(ctx: GraphContext): string {
  if (!ctx.env || !ctx.apps) return "";
  const model = { source: "serve", revision: ctx.report?.revision ?? null, apps: [...ctx.apps], environments: [ctx.env] };
  return meshGraphSection(meshGraphInput(model, ctx.env.name, ctx.report ? { report: ctx.report } : {}));
}
