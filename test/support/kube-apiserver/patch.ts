// JSON merge patch (RFC 7386) and a strategic merge patch that knows the keyed lists of the served
// types (containers by name, ports, env, volumes, …) and the `$patch: delete|replace` directive.
// Lists without a merge key are replaced, as in the real apiserver. JSON patch (RFC 6902) is not
// implemented (415).
import { isObj, itemElement, listKind, type Obj } from "./fieldset.js";

/** Applies an RFC 7386 merge patch: null deletes, objects merge, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// Strategic-merge list keys differ from server-side apply's in one place: container ports merge by
// containerPort alone (patchMergeKey), Service ports by port.
function strategicKind(names: string[], sample: unknown[]): ReturnType<typeof listKind> {
  const kind = listKind(names, sample);
  if (kind === "set") return "atomic"; // finalizers have no patch strategy: replaced
  if (kind !== "atomic" && kind.keys.length > 1) return { keys: [kind.keys[0]!] };
  return kind;
}

/** Applies a strategic merge patch for the served built-in types. */
export function strategicMergePatch(target: unknown, patch: unknown, names: string[] = []): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") return stripDirectives(patch);
  if (patch.$patch === "delete") return undefined;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue; // $setElementOrder/…, $retainKeys, $deleteFromPrimitiveList/…
    if (v === null) delete out[k];
    else if (Array.isArray(v) && Array.isArray(out[k])) out[k] = mergeKeyedList(out[k] as unknown[], v, [...names, k]);
    else if (isObj(v)) out[k] = strategicMergePatch(out[k], v, [...names, k]);
    else out[k] = structuredClone(v);
  }
  return out;
}

function mergeKeyedList(live: unknown[], patch: unknown[], names: string[]): unknown[] {
  const kind = strategicKind(names, [...patch, ...live]);
  if (kind === "atomic" || kind === "set") return patch.map(stripDirectives);
  const el = (item: unknown) => itemElement(kind, item);
  const out = [...live];
  for (const p of patch) {
    const idx = out.findIndex((item) => el(item) === el(p));
    const merged = strategicMergePatch(idx >= 0 ? out[idx] : undefined, p, [...names, "[]"]);
    if (merged === undefined) {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) out[idx] = merged;
    else out.push(merged);
  }
  return out;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObj(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith("$")).map(([k, x]) => [k, stripDirectives(x)]));
}
