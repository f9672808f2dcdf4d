// diff: DesiredState × ActualState (+ ignore rules) → DiffResult. Pure.
// Pairs resources by key; the op is derived from which side exists (create / delete / update), a resource
// on a target that could not be read is `unknown`, never a delete. Output is sorted by key.
import type {
  ActualResource,
  ActualState,
  Change,
  DesiredState,
  DiffResult,
  IgnoreRule,
  Resource,
  ResourceKey,
  UnknownItem,
  UnreachableTarget,
} from "../model/index.js";
import { compareStrings } from "../model/index.js";
import { hooksOf } from "../runtimes/index.js";
import { compareResource } from "./resources.js";

export { REDACTED } from "../compare/redact.js";

/** Options of {@link diff}. */
export interface DiffOptions {
  /** Fields other controllers own (e.g. `/spec/replicas` of a Deployment under an HPA). */
  ignore: IgnoreRule[];
}

/** Diffs desired against actual for one environment. Changes, unchanged keys and unknown items are each
 * sorted by key (code-unit order), so the same input always yields the same result. */
export function diff(desired: DesiredState, actual: ActualState, opts: DiffOptions): DiffResult {
  const want = indexByKey(desired.resources, "desired");
  const have = indexByKey(actual.resources, "actual");
  const keys = allKeys(desired.resources, want, have);
  const result: DiffResult = { env: desired.env, changes: [], unchanged: [], unknown: [] };
  for (const key of keys) {
    const d = want.get(key);
    const a = have.get(key);
    const subject = (d ?? a)!;
    const down = findUnreachable(actual.unreachable, subject);
    if (down) result.unknown.push(unknownItem(subject, down));
    else if (d && a) addUpdate(result, d, a, opts.ignore);
    else if (d) result.changes.push({ op: "create", key, desired: d });
    else if (a) result.changes.push({ op: "delete", key, actual: a });
  }
  return result;
}

function addUpdate(result: DiffResult, d: Resource, a: ActualResource, ignore: IgnoreRule[]): void {
  const fields = compareResource(d, a, ignore);
  if (fields.length === 0) result.unchanged.push(d.key);
  else result.changes.push({ op: "update", key: d.key, desired: d, actual: a, fields } satisfies Change);
}

/** Every key of either side, sorted. A desired state comes sorted by key (render sorts it): when the actual side
 * has no key the desired side lacks (in sync, or drifted in place: the usual case), those are the desired keys in
 * their order, without a union to build and sort (70,000 keys at 10,000 apps). */
function allKeys(desired: readonly Resource[], want: Map<ResourceKey, Resource>, have: Map<ResourceKey, ActualResource>): ResourceKey[] {
  let sorted = true;
  for (let i = 1; i < desired.length && sorted; i++) sorted = compareStrings(desired[i - 1]!.key, desired[i]!.key) < 0;
  let covered = sorted;
  for (const key of have.keys()) {
    if (!covered) break;
    covered = want.has(key);
  }
  return covered ? desired.map((r) => r.key) : [...new Set([...want.keys(), ...have.keys()])].sort(compareStrings);
}

/** Maps resources by key. Two resources with one key would make the pairing ambiguous: that is a bug in
 * whatever produced the state, so it throws naming the key. */
function indexByKey<R extends Resource>(resources: readonly R[], side: string): Map<ResourceKey, R> {
  const map = new Map<ResourceKey, R>();
  for (const r of resources) {
    if (map.has(r.key)) throw new Error(`${side} state has two resources with key ${r.key}`);
    map.set(r.key, r);
  }
  return map;
}

/** Whether an unreachable target hides a resource. VM instances and capture rules live on the same host,
 * so one unreachable host hides both. There is one Consul per environment: a `consul` entry (whatever
 * its target names, e.g. the agent address) hides every registration, whose own target is its host. */
function hides(u: UnreachableTarget, r: Resource): boolean {
  const [down, here] = [hooksOf(u.runtime).target.place, hooksOf(r.runtime).target.place];
  if (down === "environment" || here === "environment") return u.runtime === r.runtime;
  return u.target === r.target && down === here;
}

function findUnreachable(unreachable: readonly UnreachableTarget[], r: Resource): UnreachableTarget | undefined {
  return unreachable.find((u) => hides(u, r));
}

function unknownItem(r: Resource, down: UnreachableTarget): UnknownItem {
  const reason = `${hooksOf(down.runtime).target.noun} unreachable: ${down.reason}`;
  return { key: r.key, runtime: r.runtime, target: r.target, app: r.app, reason };
}

