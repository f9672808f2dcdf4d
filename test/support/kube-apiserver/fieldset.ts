// Field sets as structured-merge-diff computes them, for the handful of types the double serves:
// which paths of an object a manager owns, in the FieldsV1 element notation (`f:spec`,
// `k:{"name":"web"}`, `v:"x"`). The "schema" here is a few rules keyed by field names: which lists
// merge by key (containers by name, container ports by containerPort+protocol, …), which maps and
// lists are atomic (selectors, command/args); unknown lists of objects with `name` merge by name.

/** A JSON object as stored by the double. */
export type Obj = Record<string, unknown>;

/** A path in FieldsV1 element notation, e.g. ["f:spec", "f:template", …, "k:{\"name\":\"web\"}", "f:image"]. */
export type FieldPath = string[];

/** How a list at some place in an object merges. */
export type ListKind = { keys: string[] } | "set" | "atomic";

const KEY_DEFAULTS: Record<string, unknown> = { protocol: "TCP" };
const CONTAINER_LISTS = new Set(["containers", "initContainers", "ephemeralContainers"]);
const BY_NAME = new Set([...CONTAINER_LISTS, "volumes", "imagePullSecrets", "env", "resourceClaims"]);
const ATOMIC_MAPS = new Set(["selector", "nodeSelector", "labelSelector", "namespaceSelector"]);

/** Whether `v` is a plain JSON object. */
export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep equality of JSON values, ignoring the order of object keys. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (!isObj(a) || !isObj(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
}

/** How the list at `names` (field names from the root, "[]" for list items) merges. */
export function listKind(names: string[], sample: unknown[]): ListKind {
  const last = names.at(-1) ?? "";
  if (BY_NAME.has(last)) return { keys: ["name"] };
  if (last === "ports" && names.length === 2 && names[0] === "spec") return { keys: ["port", "protocol"] };
  if (last === "ports" && CONTAINER_LISTS.has(names.at(-3) ?? "")) return { keys: ["containerPort", "protocol"] };
  if (last === "volumeMounts") return { keys: ["mountPath"] };
  if (last === "volumeDevices") return { keys: ["devicePath"] };
  if (last === "hostAliases") return { keys: ["ip"] };
  if (last === "ownerReferences") return { keys: ["uid"] };
  if (last === "topologySpreadConstraints") return { keys: ["topologyKey", "whenUnsatisfiable"] };
  if (last === "finalizers") return "set";
  if (sample.length > 0 && sample.every((i) => isObj(i) && typeof i.name === "string")) return { keys: ["name"] };
  return "atomic";
}

/** Whether the map at `names` is owned as a whole (label selectors, nodeSelector). */
export function isAtomicMap(names: string[]): boolean {
  return ATOMIC_MAPS.has(names.at(-1) ?? "") && names[0] !== "metadata";
}

/** The path element of one list item: `k:{…}` (keys sorted, defaults filled) or `v:<json>`. */
export function itemElement(kind: ListKind, item: unknown): string {
  if (kind === "set" || kind === "atomic" || !isObj(item)) return `v:${JSON.stringify(item)}`;
  const key: Obj = {};
  for (const k of [...kind.keys].sort()) {
    const v = item[k] ?? KEY_DEFAULTS[k];
    if (v !== undefined) key[k] = v;
  }
  return `k:${JSON.stringify(key)}`;
}

/** The leaf paths a value sets: scalars, atomic maps and lists, and each item of a keyed list or set. */
export function leafPaths(value: unknown, names: string[] = [], prefix: FieldPath = []): FieldPath[] {
  if (isObj(value)) {
    if (isAtomicMap(names)) return [prefix];
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...names, k], [...prefix, `f:${k}`]));
  }
  if (Array.isArray(value)) {
    const kind = listKind(names, value);
    if (kind === "atomic") return [prefix];
    return value.flatMap((item) => {
      const path = [...prefix, itemElement(kind, item)];
      return kind === "set" || !isObj(item) ? [path] : [path, ...leafPaths(item, [...names, "[]"], path)];
    });
  }
  return [prefix];
}

/** Encodes a path as one string (a Set member); elements never contain newlines. */
export function encodePath(p: FieldPath): string {
  return p.join("\n");
}

/** The inverse of encodePath. */
export function decodePath(s: string): FieldPath {
  return s === "" ? [] : s.split("\n");
}

/** The FieldsV1 tree of a set: nested objects; a member that also has children gets ".": {}. */
export function toFieldsV1(set: Set<string>): Obj {
  const root: Obj = {};
  for (const s of [...set].sort()) {
    let node = root;
    for (const el of decodePath(s)) node = (node[el] ??= {}) as Obj;
  }
  for (const s of set) {
    let node = root;
    for (const el of decodePath(s)) node = node[el] as Obj;
    if (Object.keys(node).length > 0) node["."] = {};
  }
  return root;
}

/** The set described by a FieldsV1 tree (leaves and "."-marked nodes). */
export function fromFieldsV1(tree: unknown, prefix: FieldPath = [], out = new Set<string>()): Set<string> {
  if (!isObj(tree)) return out;
  const children = Object.keys(tree).filter((k) => k !== ".");
  if (prefix.length > 0 && (children.length === 0 || "." in tree)) out.add(encodePath(prefix));
  for (const k of children) fromFieldsV1(tree[k], [...prefix, k], out);
  return out;
}

/** A path as the apiserver prints it in conflicts: `.spec.template.spec.containers[name="web"].image`. */
export function pathString(p: FieldPath): string {
  return p
    .map((el) => {
      const body = el.slice(2);
      if (el.startsWith("f:")) return `.${body}`;
      if (el.startsWith("v:")) return `[=${body}]`;
      const key = JSON.parse(body) as Obj;
      return `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}]`;
    })
    .join("");
}

/** Finds the value at a path; `found` is false when any step is missing. */
export function getAt(obj: unknown, path: FieldPath, names: string[] = []): { found: boolean; value?: unknown } {
  let node: unknown = obj;
  for (const el of path) {
    if (el.startsWith("f:")) {
      const k = el.slice(2);
      if (!isObj(node) || !(k in node)) return { found: false };
      node = node[k];
      names = [...names, k];
    } else {
      if (!Array.isArray(node)) return { found: false };
      const kind = listKind(names, node);
      node = node.find((item) => itemElement(kind, item) === el);
      if (node === undefined) return { found: false };
      names = [...names, "[]"];
    }
  }
  return { found: true, value: node };
}

/** Removes the field or list item at a path (no-op when missing); prunes maps left empty. */
export function removeAt(obj: Obj, path: FieldPath, names: string[] = []): void {
  const [el, ...rest] = path;
  if (el === undefined) return;
  if (!el.startsWith("f:")) return; // list items are removed by their parent's call below
  const k = el.slice(2);
  const child = obj[k];
  if (rest.length === 0) {
    delete obj[k];
  } else if (isObj(child)) {
    removeAt(child, rest, [...names, k]);
    if (Object.keys(child).length === 0) delete obj[k];
  } else if (Array.isArray(child)) {
    const kind = listKind([...names, k], child);
    const idx = child.findIndex((item) => itemElement(kind, item) === rest[0]);
    if (idx < 0) return;
    if (rest.length === 1) child.splice(idx, 1);
    else if (isObj(child[idx])) removeAt(child[idx], rest.slice(1), [...names, k, "[]"]);
    if (child.length === 0) delete obj[k];
  }
}
