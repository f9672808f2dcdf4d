// The one canonical JSON of amphi: equal values give equal bytes, whatever order their keys were written in.

/** JSON with object keys sorted (by UTF-16 code units) at every level, no spaces. Otherwise exactly
 * `JSON.stringify`: `undefined` fields are left out, `toJSON` is honoured. Used for spec hashes and to
 * compare records read back from hosts and Consul with the desired ones.
 *
 * Written out by hand rather than as `JSON.stringify(value, replacer)`: a replacer makes V8 call back into JS for
 * every value and copy every object with its keys sorted (a 10,000-app plan hashes every app and mesh resource: a
 * tenth of its time went there). The output is byte for byte the replacer's, integer-like keys included (an
 * object lists those first, in numeric order, whatever order they were added in). */
export function canonicalJson(value: unknown): string {
  return write(value, "") ?? "undefined";
}

/** `value` (held under `key`) as canonical JSON; undefined where JSON.stringify writes nothing. */
function write(value: unknown, key: string): string | undefined {
  let v = value;
  if (v !== null && (typeof v === "object" || typeof v === "bigint")) {
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") v = toJSON.call(v, key) as unknown;
  }
  // strings, numbers, booleans, null; undefined for undefined, functions and symbols; a TypeError for bigints
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) {
    let out = "[";
    for (let i = 0; i < v.length; i++) out += `${i > 0 ? "," : ""}${write(v[i], String(i)) ?? "null"}`;
    return `${out}]`;
  }
  const obj = v as Record<string, unknown>;
  let out = "{";
  let first = true;
  for (const k of sortedKeys(obj)) {
    const text = write(obj[k], k);
    if (text === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(k)}:${text}`;
    first = false;
  }
  return `${out}}`;
}

/** `obj`'s own enumerable keys in the order an object built with them sorted lists them: array-index keys
 * first, ascending (Object.keys gives those first, already in that order), then the others sorted. */
function sortedKeys(obj: Record<string, unknown>): string[] {
  const keys = Object.keys(obj);
  let indices = 0;
  while (indices < keys.length && isArrayIndex(keys[indices]!)) indices++;
  if (indices === 0) return keys.sort();
  const rest = keys.slice(indices).sort();
  keys.length = indices;
  return keys.concat(rest);
}

function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4294967295;
}
