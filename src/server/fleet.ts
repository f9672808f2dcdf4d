// What `amphi serve`'s fleet page shows of each environment: the newest drift report its cycles (or the health
// watch between cycles) built, and the config that report was made from (its clusters, host groups, placements
// and traffic splits, for the topology and the mesh graph). In memory only: after a restart the page says
// "no cycle yet" until the first cycle of each environment has reported.
import type { AppModel, EnvironmentModel } from "../model/index.js";
import type { DriftReport, MeshGraphInput } from "../report/index.js";

/** One environment as the page shows it. */
export interface EnvView {
  name: string;
  /** The newest report, or null before the first cycle reported. */
  report: DriftReport | null;
  /** The environment and apps of the config the newest observation was made from, or null. */
  config: { env: EnvironmentModel; apps: readonly AppModel[] } | null;
  /** The mesh graph built with the newest report (from its cycle's model, report and actual state, as in the
   * report file), or absent when none could be built. */
  graph?: MeshGraphInput;
}

/** The newest report and config per served environment. */
export class FleetState {
  private readonly views = new Map<string, EnvView>();

  constructor(envs: readonly string[]) {
    for (const name of envs) this.views.set(name, { name, report: null, config: null });
  }

  /** A report of `env` was built (by a cycle or the health watch), with its mesh graph; an older one never replaces
   * a newer one. */
  reported(env: string, report: DriftReport, graph?: MeshGraphInput): void {
    const v = this.views.get(env) ?? { name: env, report: null, config: null };
    if (v.report && v.report.generatedAt > report.generatedAt) return;
    const { graph: _older, ...rest } = v;
    this.views.set(env, graph ? { ...rest, report, graph } : { ...rest, report });
  }

  /** The config a cycle of `env` observes with. */
  configured(env: EnvironmentModel, apps: readonly AppModel[]): void {
    const v = this.views.get(env.name) ?? { name: env.name, report: null, config: null };
    this.views.set(env.name, { ...v, config: { env, apps } });
  }

  /** Every environment, by name. */
  list(): EnvView[] {
    return [...this.views.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
