// PR mode: which apps a change between two revisions touches. Pure.
// In: the paths `git diff --name-status base head -- apps environments` lists, the model at both revisions.
// Out: apps in scope, each with why — its `apps/<app>/` files changed, its placements in the environment
// changed, or the traffic policy of one of its services changed, or it depends (transitively) on such an app.
// Environment settings other than placements and traffic policies (mesh,
// targets, Consul, state) affect every app: then the scope is the whole environment.
import type { DiffResult, DesiredState, EnvironmentModel, Model } from "../model/index.js";
import type { PathChange } from "../ports/sources.js";
import { dependents } from "./dependents.js";

export type { PathChange } from "../ports/sources.js";

/** What PR mode plans. */
export interface Scope {
  /** Every app of the environment (settings changed, or a new environment). */
  all: boolean;
  /** Why the environment is in scope as a whole, when `all`. */
  reason: string | null;
  /** App → why it is in scope (empty when `all`). */
  apps: Map<string, string>;
}

/** The scope of the change from `base` (null when the base has no such config) to `head` for `env`. */
export function prScope(changes: PathChange[], base: Model | null, head: Model, env: string): Scope {
  const headEnv = head.environments.find((e) => e.name === env);
  const baseEnv = base?.environments.find((e) => e.name === env);
  if (!baseEnv || !headEnv) return { all: true, reason: `environment ${env} is new in this change`, apps: new Map() };
  if (settingsKey(baseEnv) !== settingsKey(headEnv)) {
    return { all: true, reason: `settings of environments/${env} other than placements changed`, apps: new Map() };
  }
  const apps = new Map<string, string>();
  for (const c of changes) {
    for (const p of [c.path, c.from]) {
      const m = p ? /^apps\/([^/]+)\//.exec(p) : null;
      if (m && !apps.has(m[1]!)) apps.set(m[1]!, `apps/${m[1]}/ changed`);
    }
  }
  for (const app of new Set([...baseEnv.placements, ...headEnv.placements].map((p) => p.app))) {
    if (!apps.has(app) && placementsKey(baseEnv, app) !== placementsKey(headEnv, app)) apps.set(app, `placement in environments/${env} changed`);
  }
  // A traffic policy belongs to the app declaring its service (at either revision).
  const owners = new Map([...(base?.apps ?? []), ...head.apps].flatMap((a) => a.services.map((s): [string, string] => [s.name, a.name])));
  for (const service of new Set([...trafficOf(baseEnv), ...trafficOf(headEnv)].map((p) => p.service))) {
    const app = owners.get(service);
    if (app && !apps.has(app) && trafficKey(baseEnv, service) !== trafficKey(headEnv, service)) apps.set(app, `traffic policy of ${service} in environments/${env} changed`);
  }
  const deps = Object.fromEntries(head.apps.map((a) => [a.name, a.dependsOn]));
  for (const [app, on] of dependents(deps, new Set(apps.keys()))) apps.set(app, `depends on ${on}`);
  return { all: false, reason: null, apps: new Map([...apps].sort(([a], [b]) => (a < b ? -1 : 1))) };
}

/** The diff narrowed to the scope: changes, unchanged keys and unknown items of apps in scope, and host
 * rules (no app) of targets where an app in scope runs. */
export function scopeDiff(d: DiffResult, desired: DesiredState, scope: Scope): DiffResult {
  if (scope.all) return d;
  const inScope = (app: string | null): boolean => app !== null && scope.apps.has(app);
  const targets = new Set(desired.resources.filter((r) => inScope(r.app)).map((r) => r.target));
  const appOfKey = new Map(desired.resources.map((r) => [r.key, r] as const));
  const keep = (r: { app: string | null; target: string }): boolean => inScope(r.app) || (r.app === null && targets.has(r.target));
  return {
    env: d.env,
    changes: d.changes.filter((c) => keep(c.op === "delete" ? c.actual : c.desired)),
    unchanged: d.unchanged.filter((k) => {
      const r = appOfKey.get(k);
      return r ? keep(r) : false;
    }),
    unknown: d.unknown.filter(keep),
  };
}

/** A one-line summary for logs and comments. */
export function formatScope(scope: Scope): string {
  if (scope.all) return `every app (${scope.reason})`;
  if (scope.apps.size === 0) return "no app (nothing under apps/ or in the placements changed)";
  return [...scope.apps].map(([app, why]) => `${app} (${why})`).join(", ");
}

// The environment's settings as a comparable string, without its placements, traffic policies and positions.
function settingsKey(e: EnvironmentModel): string {
  const { placements: _p, traffic: _t, file: _f, ...rest } = e;
  return JSON.stringify(rest);
}

function trafficKey(e: EnvironmentModel, service: string): string {
  return JSON.stringify(trafficOf(e).find((p) => p.service === service) ?? null);
}

// (Hand-made models in tests may leave the list out.)
function trafficOf(e: EnvironmentModel): EnvironmentModel["traffic"] {
  return e.traffic ?? [];
}

function placementsKey(e: EnvironmentModel, app: string): string {
  return JSON.stringify(e.placements.filter((p) => p.app === app).map(({ index: _i, ...p }) => p));
}
