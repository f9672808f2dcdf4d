// The one canonical JSON of amphi: equal values give equal bytes, whatever order their keys were written in.

/** JSON with object keys sorted (by UTF-16 code units) at every level, no spaces. Otherwise exactly
 * `JSON.stringify`: `undefined` fields are left out, `toJSON` is honoured. Used for spec hashes and to
 * compare records read back from hosts and Consul with the desired ones. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, sortedKeys) ?? "undefined";
}

function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) out[k] = obj[k];
  return out;
}
