// Live actual state of one environment: one read per runtime, through the readers the CLI hands in (hosts
// through their sessions, clusters through kubectl, Consul's catalog and health). Whatever could not be read
// is reported as unreachable, never as empty, so a plan never deletes or recreates what it could not see.
import { mergeProxies, type ActualResource, type ActualState, type EnvironmentModel, type ObservedProxy, type UnreachableTarget } from "../model/index.js";
import type { ActualReader } from "../ports/actual.js";

/** Reads the actual state of `env` through every reader at once; resources sorted by key, unreachable
 * targets by target. */
export async function readActual(env: EnvironmentModel, readers: readonly ActualReader[], opts: { now(): string; signal?: AbortSignal }): Promise<ActualState> {
  const resources: ActualResource[] = [];
  const unreachable: UnreachableTarget[] = [];
  const proxies: ObservedProxy[][] = [];
  // The runtimes are independent (hosts over their sessions, clusters through kubectl, Consul over HTTP): read
  // at once, so a slow one (a host timing out) does not hold up the others. The sorts below fix the order.
  for (const read of await Promise.all(readers.map((r) => r.read(env, opts.signal)))) {
    resources.push(...read.resources);
    unreachable.push(...read.unreachable);
    if (read.proxies) proxies.push(read.proxies);
  }
  const state: ActualState = { env: env.name, observedAt: opts.now(), resources: sortByKey(resources), unreachable: sortByTarget(unreachable) };
  const seen = mergeProxies(proxies);
  return seen.length > 0 ? { ...state, proxies: seen } : state;
}

function sortByKey(rs: ActualResource[]): ActualResource[] {
  return rs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function sortByTarget(us: UnreachableTarget[]): UnreachableTarget[] {
  return us.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : a.runtime < b.runtime ? -1 : 1));
}
