// plan: DiffResult + the apps' dependsOn DAG → Plan. Pure.
// Steps are ordered by wave (the DAG; capture rules after their host's apps; deletes last), then runtime
// order (deletes reversed: deregister before stopping), then Kubernetes kind, then key.
import {
  type ActualResource,
  type Change,
  type DiffResult,
  type Plan,
  type PlanStep,
  type Resource,
  type Runtime,
} from "../model/index.js";
import { compareStrings } from "../model/index.js";
import { appWaves } from "./waves.js";
import { hooksOf, RUNTIME_ORDER } from "../runtimes/index.js";

export { formatStep } from "./format-text.js";

export { K8S_KIND_ORDER } from "../runtimes/k8s/order.js";

/** Builds the ordered plan. `deps` maps app → dependsOn; apps of changes that it does not name (deleted
 * apps) have no deps. `revision` is the config commit the plan was made from, if any. */
export function buildPlan(d: DiffResult, deps: Record<string, string[]>, revision: string | null): Plan {
  const waves = appWaves(deps);
  const applies = d.changes.filter((c) => c.op !== "delete").map((c) => toStep(c, waves.get(appOf(c) ?? "") ?? 1));
  placeFollowingSteps(applies);
  const deleteWave = applies.reduce((max, s) => Math.max(max, s.wave), 0) + 1;
  const deletes = d.changes.filter((c) => c.op === "delete").map((c) => toStep(c, deleteWave));
  const steps = [...applies, ...deletes].sort(compareSteps);
  const unknown = [...d.unknown].sort((a, b) => compareStrings(a.key, b.key));
  const count = (op: PlanStep["op"]) => steps.filter((s) => s.op === op).length;
  const summary = { create: count("create"), update: count("update"), delete: count("delete"), unchanged: d.unchanged.length, unknown: unknown.length };
  return { env: d.env, revision, steps, unknown, summary };
}

/** Steps of a runtime whose plan hook names `waveOf` go in the wave of the latest step of that runtime on
 * the same target: capture rules (app `null`) after the VM steps of their host, so the rules redirect
 * ports whose process is already deployed; wave 1 when no app on that host changes. */
function placeFollowingSteps(steps: PlanStep[]): void {
  for (const runtime of RUNTIME_ORDER) {
    const waveOf = hooksOf(runtime).plan?.waveOf;
    if (!waveOf) continue;
    const latest = new Map<string, number>();
    for (const s of steps) if (s.runtime === waveOf) latest.set(s.target, Math.max(latest.get(s.target) ?? 0, s.wave));
    for (const s of steps) if (s.runtime === runtime) s.wave = latest.get(s.target) ?? 1;
  }
  for (const runtime of RUNTIME_ORDER) {
    if (!hooksOf(runtime).plan?.afterApp) continue;
    const latest = new Map<string, number>();
    for (const s of steps) if (s.runtime !== runtime && s.app !== null) latest.set(s.app, Math.max(latest.get(s.app) ?? 0, s.wave));
    for (const s of steps) if (s.runtime === runtime && s.app !== null && latest.has(s.app)) s.wave = latest.get(s.app)! + 1;
  }
}

function resourceOf(c: Change): Resource | ActualResource {
  return c.op === "delete" ? c.actual : c.desired;
}

function appOf(c: Change): string | null {
  return resourceOf(c).app;
}

function toStep(c: Change, wave: number): PlanStep {
  const r = resourceOf(c);
  const fields = c.op === "update" ? c.fields : [];
  return { wave, runtime: r.runtime, target: r.target, app: r.app, op: c.op, key: c.key, object: objectName(r), fields };
}

/** What a step touches inside its target: `Kind/namespace/name` (or `Kind/name` when cluster-scoped),
 * the app on a host, `iptables` for capture rules, the service ID in Consul. */
export function objectName(r: Resource): string {
  return hooksOf(r.runtime).objectName(r);
}

/** Wave, then runtime order (reversed among deletes), then Kubernetes kind (reversed among deletes), then key. */
function compareSteps(a: PlanStep, b: PlanStep): number {
  if (a.wave !== b.wave) return a.wave - b.wave;
  const sign = a.op === "delete" && b.op === "delete" ? -1 : 1;
  const runtime = runtimeRank(a.runtime) - runtimeRank(b.runtime);
  if (runtime !== 0) return sign * runtime;
  const within = hooksOf(a.runtime).plan?.compareSteps?.(a, b) ?? 0;
  if (within !== 0) return sign * within;
  return compareStrings(a.key, b.key);
}

function runtimeRank(r: Runtime): number {
  return RUNTIME_ORDER.indexOf(r);
}
