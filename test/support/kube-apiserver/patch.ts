// JSON merge patch (RFC 7386) and a strategic merge patch that knows the keyed lists of the served
// types (containers by name, ports, env, volumes, …) and the `$patch: delete|replace` directive.
// Lists without a merge key are replaced, as in the real apiserver. Also JSON patch (RFC 6902),
// which kubectl uses to move a client-side-applied object's managedFields to server-side apply.
import { ApiError, badRequest } from "./status.js";
import { deepEqual, isObj, itemElement, listKind, type Obj } from "./fieldset.js";

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

function pointer(path: unknown): string[] {
  if (typeof path !== "string" || (path !== "" && !path.startsWith("/"))) throw badRequest(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path === "" ? [] : path.slice(1).split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function unprocessable(message: string): ApiError {
  return new ApiError(422, "Invalid", message);
}

/** Resolves all but the last token of a pointer to its container. */
function parentOf(doc: unknown, tokens: string[], path: string): { parent: Obj | unknown[]; key: string } {
  let node = doc;
  for (const t of tokens.slice(0, -1)) {
    node = Array.isArray(node) ? node[Number(t)] : isObj(node) ? node[t] : undefined;
    if (node === undefined) throw unprocessable(`doc is missing path: "${path}": missing value`);
  }
  if (!Array.isArray(node) && !isObj(node)) throw unprocessable(`doc is missing path: "${path}": missing value`);
  return { parent: node, key: tokens.at(-1)! };
}

function getPath(doc: unknown, path: string): unknown {
  let node = doc;
  for (const t of pointer(path)) node = Array.isArray(node) ? node[Number(t)] : isObj(node) ? node[t] : undefined;
  if (node === undefined) throw unprocessable(`doc is missing path: "${path}": missing value`);
  return node;
}

function setPath(doc: unknown, path: string, value: unknown, op: "add" | "replace"): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = key === "-" ? parent.length : Number(key);
    if (op === "add") parent.splice(i, 0, value);
    else if (i < parent.length) parent[i] = value;
    else throw unprocessable(`replace operation does not apply: doc is missing key: ${path}`);
  } else {
    if (op === "replace" && !(key in parent)) throw unprocessable(`replace operation does not apply: doc is missing key: ${path}`);
    parent[key] = value;
  }
  return doc;
}

function removePath(doc: unknown, path: string): unknown {
  const tokens = pointer(path);
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (key in parent) delete parent[key];
  else throw unprocessable(`remove operation does not apply: doc is missing path: "${path}"`);
  return doc;
}

/** Applies an RFC 6902 JSON patch (add, remove, replace, move, copy, test). */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc = structuredClone(target);
  for (const op of ops) {
    if (!isObj(op)) throw badRequest("invalid JSON patch operation");
    const path = String(op.path);
    switch (op.op) {
      case "add": doc = setPath(doc, path, structuredClone(op.value), "add"); break;
      case "replace": doc = setPath(doc, path, structuredClone(op.value), "replace"); break;
      case "remove": doc = removePath(doc, path); break;
      case "copy": doc = setPath(doc, path, structuredClone(getPath(doc, String(op.from))), "add"); break;
      case "move": {
        const v = getPath(doc, String(op.from));
        doc = setPath(removePath(doc, String(op.from)), path, v, "add");
        break;
      }
      case "test":
        if (!deepEqual(getPath(doc, path), op.value)) throw unprocessable(`testing value ${path} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}
