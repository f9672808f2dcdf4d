// Server-side apply, faithful enough for amphi's tests: merge the applied configuration into the
// live object (maps recursively, keyed lists by key, atomic values replaced), detect conflicts with
// other managers' fields, remove fields this manager applied before and no longer applies (unless
// another manager owns them), and record the manager's new field set.
import { ApiError } from "./status.js";
import { decodePath, isObj, itemElement, isAtomicMap, listKind, pathString, removeAt, type Obj } from "./fieldset.js";
import { isUnder, ownedPaths, readManagers, sameManager, sameValueAt, type Manager } from "./managed.js";

/** One server-side apply request, already parsed. */
export interface ApplyRequest {
  live: Obj | undefined; // the stored object, or undefined when the apply creates it
  config: Obj; // the applied configuration (without status for types with a status subresource)
  manager: string;
  force: boolean;
  time: string;
  subresource?: string;
}

/** The merged object (without managedFields) and the managers to record on it. */
export interface ApplyResult {
  merged: Obj;
  managers: Manager[];
}

/** Runs one apply; throws a 409 Conflict ApiError when another manager owns a changed field and
 * `force` is false. */
export function serverSideApply(req: ApplyRequest): ApplyResult {
  const managers = readManagers(req.live);
  const base: Obj = req.live ? structuredClone(req.live) : {};
  if (isObj(base.metadata)) delete base.metadata.managedFields;
  const merged = mergeValue(base, req.config, []) as Obj;
  const applied = ownedPaths(req.config, req.subresource);
  const me = { manager: req.manager, operation: "Apply" as const, apiVersion: String(req.config.apiVersion ?? "") };
  const self: Manager = { ...me, time: req.time, set: applied, ...(req.subresource ? { subresource: req.subresource } : {}) };
  const previous = managers.find((m) => sameManager(m, self))?.set ?? new Set<string>();
  const others = managers.filter((m) => !sameManager(m, self));

  const conflicts = others.flatMap((m) =>
    [...applied].filter((p) => m.set.has(p) && !sameValueAt(base, merged, p)).map((p) => ({ m, p })),
  );
  if (conflicts.length > 0 && !req.force) throw conflictError(conflicts);
  for (const { m, p } of conflicts) m.set.delete(p);

  const dropped = [...previous].filter((p) => !applied.has(p) && !others.some((m) => [...m.set].some((q) => isUnder(q, p))));
  // Parents first: a list item is found by its key, which removing its key field would destroy.
  for (const p of dropped.sort((a, b) => a.length - b.length)) removeAt(merged, decodePath(p));
  return { merged, managers: [...others, self] };
}

/** Merges an applied value into a live one. */
function mergeValue(live: unknown, config: unknown, names: string[]): unknown {
  if (isObj(config) && isObj(live) && !isAtomicMap(names)) {
    const out: Obj = { ...live };
    for (const [k, v] of Object.entries(config)) {
      if (v === null) delete out[k];
      else out[k] = mergeValue(live[k], v, [...names, k]);
    }
    return out;
  }
  if (Array.isArray(config) && Array.isArray(live)) return mergeList(live, config, names);
  return structuredClone(config);
}

function mergeList(live: unknown[], config: unknown[], names: string[]): unknown[] {
  const kind = listKind(names, [...config, ...live]);
  if (kind === "atomic") return structuredClone(config);
  const el = (item: unknown) => itemElement(kind, item);
  const fromConfig = new Map(config.map((item) => [el(item), item]));
  const liveKeys = new Set(live.map(el));
  const mergeItem = (item: unknown) => {
    const c = fromConfig.get(el(item));
    return c === undefined ? item : kind === "set" ? c : mergeValue(item, c, [...names, "[]"]);
  };
  // Keep live order unless the config names every live item; new items go last. A stable order
  // matters: re-applying the same configuration must be a no-op.
  if (live.every((item) => fromConfig.has(el(item)))) {
    return config.map((c) => (liveKeys.has(el(c)) ? mergeItem(live.find((i) => el(i) === el(c))) : structuredClone(c)));
  }
  return [...live.map(mergeItem), ...config.filter((c) => !liveKeys.has(el(c))).map((c) => structuredClone(c))];
}

/** How the apiserver names a manager in conflict messages. */
function printManager(m: Manager): string {
  const name = JSON.stringify(m.manager) + (m.subresource ? ` with subresource ${JSON.stringify(m.subresource)}` : "");
  return m.operation === "Update" ? `${name} using ${m.apiVersion}` : name;
}

/** The 409 Conflict for an apply, worded as apimachinery's NewConflictError. */
function conflictError(conflicts: { m: Manager; p: string }[]): ApiError {
  const sorted = [...conflicts].sort((a, b) => printManager(a.m).localeCompare(printManager(b.m)) || a.p.localeCompare(b.p));
  const causes = sorted.map(({ m, p }) => ({
    reason: "FieldManagerConflict",
    message: `conflict with ${printManager(m)}`,
    field: pathString(decodePath(p)),
  }));
  let message: string;
  if (sorted.length === 1) {
    message = `Apply failed with 1 conflict: ${causes[0]!.message}: ${causes[0]!.field}`;
  } else {
    const lines: string[] = [];
    for (const who of [...new Set(sorted.map((c) => printManager(c.m)))]) {
      lines.push(`conflicts with ${who}:`);
      for (const c of causes.filter((x) => x.message === `conflict with ${who}`)) lines.push(`- ${c.field}`);
    }
    message = `Apply failed with ${sorted.length} conflicts: ${lines.join("\n")}`;
  }
  return new ApiError(409, "Conflict", message, { causes });
}
