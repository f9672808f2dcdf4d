// The runtimes amphi knows, one entry each (one folder each under src/runtimes/). The pure stages
// dispatch through this list: adding a runtime adds its folder and one line here.
import type { Runtime, TaskKind } from "../model/index.js";
import { capture } from "./capture/index.js";
import { k8s } from "./k8s/index.js";
import { mesh } from "./mesh/index.js";
import { registry } from "./registry/index.js";
import { sidecar } from "./sidecar/index.js";
import type { HandlerName, RuntimeHooks } from "./types.js";
import { vm } from "./vm/index.js";

export type { HandlerName, ReportHooks, RuntimeHooks, Sides } from "./types.js";

/** Every runtime's hooks, by the runtime's name, in apply order within a wave. Typed so that every runtime
 * a folder adds to the model (RuntimeResources) needs its line here. */
export const RUNTIMES: { readonly [R in Runtime]: RuntimeHooks<R> } = {
  k8s,
  vm,
  // before capture: Envoy answers before rules send traffic to it, and (deletes reversed) goes after they are removed
  sidecar,
  capture,
  consul: registry,
  // last: a policy goes out after the instances it sends calls to are deployed and registered
  mesh,
};

/** The runtimes a plan step can touch, in apply order within a wave: the order of {@link RUNTIMES}. */
export const RUNTIME_ORDER: readonly Runtime[] = Object.keys(RUNTIMES) as Runtime[];

/** The hooks of `runtime`, typed for any resource (each entry only ever receives resources of its own runtime). */
export function hooksOf(runtime: Runtime): RuntimeHooks<Runtime> {
  return RUNTIMES[runtime] as unknown as RuntimeHooks<Runtime>;
}


/** The handler that runs tasks of `kind`: the one its runtime's task hooks name; undefined for a kind no
 * runtime lists (execute then fails those tasks, naming the kind). */
export function handlerOf(kind: TaskKind): HandlerName | undefined {
  return Object.values(RUNTIMES).find((h) => h.tasks.kinds.includes(kind))?.tasks.handler;
}

/** Whether a task of `kind` runs although a dependency of its app failed (the runtime's `runWhenBlocked`). */
export function runsWhenBlocked(kind: TaskKind): boolean {
  return Object.values(RUNTIMES).some((h) => h.tasks.runWhenBlocked?.includes(kind) ?? false);
}

/** Whether a task of `kind` is held back when a task of its own app did not succeed in an earlier wave. */
export function needsOwnApp(kind: TaskKind): boolean {
  return Object.values(RUNTIMES).some((h) => h.tasks.kinds.includes(kind) && h.tasks.needsOwnApp === true);
}
