// Fields under an environment's ignore rules are left out of what amphi applies to objects that already
// exist (Argo CD's RespectIgnoreDifferences): another controller owns them (an HPA owns spec.replicas), and
// a server-side apply that still sent them would fight it — a conflict, or with --force-conflicts a reset.
// New objects get every field: nothing else owns them yet. Pure.
import type { IgnoreRule, Json, K8sObject } from "../../model/index.js";
import { parsePointer } from "../../compare/paths.js";

/** A copy of `object` without the fields the rules for its kind and app ignore. */
export function withoutIgnored(object: K8sObject, app: string | null, rules: readonly IgnoreRule[]): K8sObject {
  const pointers = rules.filter((r) => r.kind === object.kind && (r.app === null || r.app === app)).flatMap((r) => r.jsonPointers);
  if (pointers.length === 0) return object;
  const copy = structuredClone(object);
  for (const p of pointers) remove(copy, parsePointer(p));
  return copy;
}

// Deletes the value at `tokens`; an array token matches an element by index or by its `name`.
function remove(node: Json | undefined, tokens: string[]): void {
  if (tokens.length === 0 || node === null || typeof node !== "object") return;
  const [head, ...rest] = tokens as [string, ...string[]];
  if (Array.isArray(node)) {
    const i = node.findIndex((el, idx) => String(idx) === head || (el !== null && typeof el === "object" && !Array.isArray(el) && el.name === head));
    if (i < 0) return;
    if (rest.length === 0) node.splice(i, 1);
    else remove(node[i], rest);
    return;
  }
  if (rest.length === 0) delete node[head];
  else remove(node[head], rest);
}
