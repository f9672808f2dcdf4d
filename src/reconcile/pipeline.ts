// The pipeline of `plan`, `drift`, `apply` and a reconcile cycle, assembled once: render → read → diff →
// plan. In: the model, an environment name, and how to read its actual state (readers, or an --actual
// file). Out: the desired state, the actual state and the plan — rendered once, for the plan, the apply
// and the report alike. Pure except the read.
import type { ActualState, DesiredState, Model, Plan } from "../model/index.js";
import { render } from "../render/index.js";
import { diff } from "../diff/index.js";
import { buildPlan } from "../plan/index.js";
import { scopeDiff, type Scope } from "./pr-scope.js";

/** What a run of the pipeline made: both sides and the plan between them. */
export interface Planned {
  desired: DesiredState;
  actual: ActualState;
  plan: Plan;
}

/** diff → plan of an environment already rendered (a cycle plans again after apply without rendering again). */
export type Planner = (model: Model, envName: string, actual: ActualState, desired: DesiredState) => Plan;

/** Renders `envName`, reads its actual state, and plans the difference (with `scope`: only what PR mode plans).
 * `read` is given the desired state (a file reader shares its in-sync objects). `plan` replaces the diff → plan
 * step (tests). */
export async function planLive(model: Model, envName: string, read: (desired: DesiredState) => Promise<ActualState>, opts: { scope?: Scope; plan?: Planner } = {}): Promise<Planned> {
  const desired = render(model, envName);
  const actual = await read(desired);
  const plan = opts.plan ? opts.plan(model, envName, actual, desired) : planDesired(model, envName, actual, desired, opts.scope);
  return { desired, actual, plan };
}

/** The pure step: diff (with the environment's ignore rules) → ordered plan; with `scope`, only its apps. */
export function planDesired(model: Model, envName: string, actual: ActualState, desired: DesiredState, scope?: Scope): Plan {
  const env = model.environments.find((e) => e.name === envName);
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  const d = diff(desired, actual, { ignore: env?.ignoreDifferences ?? [] });
  return buildPlan(scope ? scopeDiff(d, desired, scope) : d, deps, model.revision);
}
