// Shape checks for hand-written input (the --actual file), shared by the runtimes' actual-file hooks.

/** A plain object (not null, not an array). */
export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function nonEmpty(v: unknown): boolean {
  return typeof v === "string" && v !== "";
}

export function isStringMap(v: unknown): boolean {
  return isObj(v) && Object.values(v).every((x) => typeof x === "string");
}
