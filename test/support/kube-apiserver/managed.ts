// metadata.managedFields bookkeeping: decode the entries into sets, record an Update (a write that
// is not an apply: create, replace, merge/strategic patch), and encode them back.
import { deepEqual, encodePath, decodePath, fromFieldsV1, getAt, isObj, leafPaths, toFieldsV1, type Obj } from "./fieldset.js";

/** One manager's entry, with its FieldsV1 as a set of encoded paths. */
export interface Manager {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  subresource?: string;
  set: Set<string>;
}

const STRIPPED_METADATA = [
  "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
  "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
];

/** The paths an object (or applied configuration) sets, without identity and server-owned fields.
 * `status` is left out unless `subresource` is "status", where only status counts. */
export function ownedPaths(obj: Obj, subresource?: string): Set<string> {
  const copy: Obj = { ...obj };
  delete copy.apiVersion;
  delete copy.kind;
  if (subresource === "status") return new Set(leafPaths({ status: copy.status }).map(encodePath));
  delete copy.status;
  if (isObj(copy.metadata)) {
    const md: Obj = { ...copy.metadata };
    for (const k of STRIPPED_METADATA) delete md[k];
    copy.metadata = md;
  }
  return new Set(leafPaths(copy).filter((p) => p.length > 0).map(encodePath));
}

/** Decodes metadata.managedFields. */
export function readManagers(obj: Obj | undefined): Manager[] {
  const md = obj?.metadata;
  const entries = isObj(md) && Array.isArray(md.managedFields) ? md.managedFields : [];
  return entries.filter(isObj).map((e) => ({
    manager: String(e.manager ?? ""),
    operation: e.operation === "Apply" ? "Apply" : "Update",
    apiVersion: String(e.apiVersion ?? ""),
    time: String(e.time ?? ""),
    ...(typeof e.subresource === "string" && e.subresource ? { subresource: e.subresource } : {}),
    set: fromFieldsV1(e.fieldsV1),
  }));
}

/** The apiserver's order of managedFields: Apply before Update, then oldest first, then by name. */
function byApiserverOrder(a: Manager, b: Manager): number {
  const key = (m: Manager) => [m.operation, m.time.replace(/\.\d+Z$/, "Z"), m.manager, m.apiVersion, m.subresource ?? ""];
  const [x, y] = [key(a), key(b)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
}

/** Encodes managers into metadata.managedFields entries (sorted as the apiserver sorts them),
 * dropping managers that own nothing. */
export function writeManagers(managers: Manager[]): Obj[] {
  return managers
    .filter((m) => m.set.size > 0)
    .sort(byApiserverOrder)
    .map((m) => ({
      manager: m.manager,
      operation: m.operation,
      apiVersion: m.apiVersion,
      time: m.time,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1(m.set),
      ...(m.subresource ? { subresource: m.subresource } : {}),
    }));
}

/** Whether two managers are the same identity (the apiserver ignores apiVersion for appliers). */
export function sameManager(a: Omit<Manager, "set" | "time">, b: Omit<Manager, "set" | "time">): boolean {
  return (
    a.manager === b.manager &&
    a.operation === b.operation &&
    (a.subresource ?? "") === (b.subresource ?? "") &&
    (a.operation === "Apply" || a.apiVersion === b.apiVersion)
  );
}

/** Whether `path` is `prefix` or below it. */
export function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}\n`);
}

/** The paths whose value differs between two objects (added, removed or changed), over both sets. */
export function changedPaths(before: Obj | undefined, after: Obj, subresource?: string): Set<string> {
  const a = before ? ownedPaths(before, subresource) : new Set<string>();
  const b = ownedPaths(after, subresource);
  const out = new Set<string>();
  for (const p of new Set([...a, ...b])) {
    if (!a.has(p) || !b.has(p) || !sameValueAt(before ?? {}, after, p)) out.add(p);
  }
  return out;
}

/** Whether the value at encoded path `p` is the same in both (a list item's value is its existence). */
export function sameValueAt(x: Obj, y: Obj, p: string): boolean {
  const path = decodePath(p);
  const a = getAt(x, path);
  const b = getAt(y, path);
  if (!a.found || !b.found) return a.found === b.found;
  if (!(path.at(-1) ?? "").startsWith("f:")) return true;
  return deepEqual(a.value, b.value);
}

/** Records an Update by `who`: the changed paths move to `who`; removed paths leave every manager. */
export function recordUpdate(
  managers: Manager[],
  before: Obj | undefined,
  after: Obj,
  who: Omit<Manager, "set">,
): Manager[] {
  const changed = changedPaths(before, after, who.subresource);
  const present = ownedPaths(after, who.subresource);
  const out = managers.map((m) => ({ ...m, set: new Set([...m.set].filter((p) => !changed.has(p))) }));
  const mine = [...changed].filter((p) => present.has(p));
  const existing = out.find((m) => sameManager(m, who));
  if (existing) {
    for (const p of mine) existing.set.add(p);
    if (mine.length > 0) existing.time = who.time;
  } else if (mine.length > 0) {
    out.push({ ...who, set: new Set(mine) });
  }
  return out;
}
