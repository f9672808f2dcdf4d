// Field-by-field comparison of two JSON values, producing FieldChanges with readable paths.
// Two modes: "subset" walks only what the desired side sets (server-side-apply style, for live
// Kubernetes objects full of defaults); "full" compares every field on both sides (records amphi owns whole).
import type { FieldChange, Json } from "../model/index.js";
import { elementSegment, formatPath, isObject, type JsonObject, type Segment } from "./paths.js";
import { isMaskedSecret, redactDeep, type SecretPredicate } from "./redact.js";

/** How {@link compareJson} walks and what it skips. */
export interface CompareOptions {
  /** `subset`: fields only the actual side has are not changes; `full`: every field counts. */
  mode: "subset" | "full";
  /** Keys of named lists whose actual-only elements are a change even in subset mode (lists amphi owns). */
  ownedLists: ReadonlySet<string>;
  /** Paths never compared (ignore rules, server-owned metadata). */
  ignored: (segments: readonly Segment[]) => boolean;
  /** Paths whose values are masked in the output. */
  isSecret: SecretPredicate;
  /** Extra equality for two scalars that differ as JSON, given where they are: `1` and `"1"`, `0.5` and
   * `"500m"` (the API server returns numbers and quantities in its own form). Absent: strict equality. */
  sameScalar?: (desired: Json | undefined, actual: Json | undefined, segments: readonly Segment[]) => boolean;
}

interface Walk extends CompareOptions {
  out: FieldChange[];
}

/** Compares `desired` with `actual` and returns the differing fields, in walk order (desired's key order,
 * then keys only the actual side has). `from` is the actual value, `to` the desired one; secret values
 * are already replaced by `"(secret)"`. */
export function compareJson(desired: Json | undefined, actual: Json | undefined, opts: CompareOptions): FieldChange[] {
  // Why first: most resources of a plan are in sync, and this check costs a fraction of the walk below
  // (no path, no closures, no options); two identical values never differ under any mode or rule.
  if (sameJson(desired, actual)) return [];
  const walk: Walk = { ...opts, out: [] };
  visit(desired, actual, [], walk);
  return walk.out;
}

function visit(d: Json | undefined, a: Json | undefined, path: Segment[], w: Walk): void {
  if (w.ignored(path)) return;
  if (isObject(d) || isObject(a)) {
    if ((isObject(d) || d == null) && (isObject(a) || a == null)) return visitObject(d ?? {}, a ?? {}, path, w);
  } else if (Array.isArray(d) || Array.isArray(a)) {
    if ((Array.isArray(d) || d == null) && (Array.isArray(a) || a == null)) return visitArray(d ?? [], a ?? [], path, w);
  } else if (scalarEqual(d, a, path, w)) {
    return;
  }
  emit(path, a, d, w);
}

function visitObject(d: JsonObject, a: JsonObject, path: Segment[], w: Walk): void {
  const keys = Object.keys(d);
  for (const k of Object.keys(a)) if (!Object.hasOwn(d, k) && (w.mode === "full" || ownedList(k, a[k], w))) keys.push(k);
  for (const k of keys) within(path, { key: k }, () => visit(d[k], a[k], path, w));
}

/** Runs `body` with `seg` appended to `path`. The path is one mutable stack for the whole walk (a copy per
 * visited field made large diffs slow); it is copied only when a change is recorded. */
function within(path: Segment[], seg: Segment, body: () => void): void {
  path.push(seg);
  try {
    body();
  } finally {
    path.pop();
  }
}

function visitArray(d: Json[], a: Json[], path: Segment[], w: Walk): void {
  if (isNamedList(d) && isNamedList(a)) return visitNamedList(d, a, path, w);
  const objects = d.every(isObject) && a.every(isObject);
  if (objects && d.length === a.length) {
    d.forEach((de, i) => within(path, { index: i }, () => visit(de, a[i], path, w)));
  } else if (!deepEqual(d, a, (x, y) => scalarEqual(x, y, path, w))) {
    emit(path, a, d, w);
  }
}

/** Elements matched by `name`: `containers[name=app]`. Desired elements missing in actual are always a
 * change; actual-only elements are one in full mode or when the list is one amphi owns. */
function visitNamedList(d: JsonObject[], a: JsonObject[], path: Segment[], w: Walk): void {
  const byName = new Map(a.map((e) => [e["name"] as string, e]));
  d.forEach((de, i) => {
    const match = byName.get(de["name"] as string);
    within(path, elementSegment(i, de), () => {
      if (match) visit(de, match, path, w);
      else if (!w.ignored(path)) emit(path, undefined, de, w);
    });
  });
  const last = path[path.length - 1];
  const owned = w.mode === "full" || (last !== undefined && "key" in last && w.ownedLists.has(last.key));
  if (!owned) return;
  const wanted = new Set(d.map((e) => e["name"] as string));
  a.forEach((ae, i) => {
    if (wanted.has(ae["name"] as string)) return;
    within(path, elementSegment(i, ae), () => w.ignored(path) || emit(path, ae, undefined, w));
  });
}

/** In subset mode, an owned list that desired no longer sets at all still has amphi's elements live:
 * they are removals (server-side apply drops fields the manager stops sending). */
function ownedList(key: string, value: Json | undefined, w: Walk): boolean {
  return w.ownedLists.has(key) && Array.isArray(value) && value.length > 0;
}

/** A list of objects that all carry a distinct string `name` (an empty list qualifies). */
function isNamedList(list: Json[]): list is JsonObject[] {
  const names = new Set<string>();
  for (const e of list) {
    if (!isObject(e) || typeof e["name"] !== "string" || names.has(e["name"])) return false;
    names.add(e["name"]);
  }
  return true;
}

function emit(path: Segment[], from: Json | undefined, to: Json | undefined, w: Walk): void {
  const at = [...path];
  w.out.push({ path: formatPath(at), from: redactDeep(from, at, w.isSecret), to: redactDeep(to, at, w.isSecret) });
}

/** Scalar equality where null and a missing value are the same, plus the walk's own rule if it has one. */
function scalarEqual(d: Json | undefined, a: Json | undefined, path: readonly Segment[], w: Walk): boolean {
  return d === a || (d == null && a == null) || (w.sameScalar?.(d, a, path) ?? false) || (a !== undefined && isMaskedSecret(d, path, w.isSecret)) || isMaskedSecret(a, path, w.isSecret);
}

type ScalarEq = (d: Json | undefined, a: Json | undefined) => boolean;
const strict: ScalarEq = (d, a) => d === a || (d == null && a == null);

/** Deep equality of JSON values; scalars are compared with `same` (strict by default, null ≡ missing). */
export function deepEqual(d: Json | undefined, a: Json | undefined, same: ScalarEq = strict): boolean {
  if (Array.isArray(d) || Array.isArray(a)) {
    return Array.isArray(d) && Array.isArray(a) && d.length === a.length && d.every((x, i) => deepEqual(x, a[i], same));
  }
  if (isObject(d) || isObject(a)) {
    if (!isObject(d) || !isObject(a)) return false;
    const keys = new Set([...Object.keys(d), ...Object.keys(a)]);
    return [...keys].every((k) => deepEqual(d[k], a[k], same));
  }
  return same(d, a);
}

/** Whether two JSON values are identical: the same scalars (`===`), arrays of the same length with identical
 * elements, objects with the same own keys and identical values (a key holding `undefined` on one side only
 * makes them differ). Strict where {@link deepEqual} is lenient, so `true` means no rule can tell them apart. */
export function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  let n = 0;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    if (!Object.hasOwn(b, k) || !sameJson(a[k], b[k])) return false;
    n++;
  }
  for (const k in b) if (Object.hasOwn(b, k)) n--;
  return n === 0;
}
