// SLOT for the mesh graph (issue 15, item 1: services as nodes, dependsOn and traffic policy on the edges, laid out
// into SVG on the server). Another branch builds it (src/report/mesh-graph*.ts); until it is wired in here, the
// page and the HTML report call this and show nothing where the graph goes.
import type { AppModel, EnvironmentModel } from "../model/index.js";
import type { DriftReport } from "./model.js";

/** What the graph is drawn from: the environment's report, and its config where the caller has it (the page
 * does; a report file written from a report alone does not). */
export interface GraphContext {
  report: DriftReport | null;
  env?: EnvironmentModel;
  apps?: readonly AppModel[];
}

/** The mesh graph section (`<section class="graph">…</section>`), or "" while no graph is wired in. */
export function graphSection(_ctx: GraphContext): string {
  return "";
}
