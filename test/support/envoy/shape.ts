// The Envoy test double's notion of "config I implement": a shape per message, naming every field the double
// acts on. A field outside the shape, an enum value it does not handle or an `Any` of a type it does not know is
// reported (`<path>: …`), and the double rejects the config (a bootstrap: exit 1; an xDS response: NACK), as
// Envoy rejects config it cannot load — so a test also fails when amphi starts emitting something the double
// would silently ignore.

/** What a field may hold: a scalar (`"scalar"`), a message (its fields' shapes), a repeated field
 * (`[shape]`), a map (`mapOf`), or a custom check (a function returning problems). */
export type Shape = "scalar" | "string" | "number" | "bool" | { readonly [field: string]: Shape } | readonly [Shape] | Check;
/** A custom check: problems of `value` at `path`. */
export type Check = (value: unknown, path: string) => string[];

/** Every problem of `value` against `shape`, each `<path>: <problem>`; empty: the double implements all of it. */
export function checkShape(shape: Shape, value: unknown, path: string): string[] {
  if (typeof shape === "function") return shape(value, path);
  if (shape === "scalar") return value !== null && typeof value === "object" ? [`${path}: expected a scalar`] : [];
  if (shape === "string") return typeof value === "string" ? [] : [`${path}: expected a string, got ${JSON.stringify(value)}`];
  if (shape === "number") return typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value)) ? [] : [`${path}: expected a number, got ${JSON.stringify(value)}`];
  if (shape === "bool") return typeof value === "boolean" ? [] : [`${path}: expected a boolean`];
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((v, i) => checkShape(shape[0] as Shape, v, `${path}[${i}]`));
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [`${path}: expected an object`];
  const fields = shape as { readonly [field: string]: Shape };
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    const s = fields[k];
    if (s === undefined) out.push(`${path}.${k}: not implemented by the Envoy test double`);
    else out.push(...checkShape(s, v, `${path}.${k}`));
  }
  return out;
}

/** One of the given enum names (or, for a number, its value in `numbers`). */
export function oneOf(...values: string[]): Check {
  return (v, path) => (typeof v === "string" && values.includes(v) ? [] : [`${path}: ${JSON.stringify(v)} not implemented by the Envoy test double (it knows ${values.join(", ")})`]);
}

/** A map (string keys) whose values have `shape`. */
export function mapOf(shape: Shape): Check {
  return (v, path) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return [`${path}: expected a map`];
    return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => checkShape(shape, x, `${path}[${k}]`));
  };
}

/** An `Any` (decoded: `@type` and the message's fields) of one of the given type URLs, each with its shape. */
export function anyOf(types: Record<string, Shape>): Check {
  return (v, path) => {
    if (v === null || typeof v !== "object") return [`${path}: expected a typed config`];
    const { ["@type"]: url, ...rest } = v as Record<string, unknown>;
    if (typeof url !== "string") return [`${path}: typed config of unknown type (${JSON.stringify((v as Record<string, unknown>)["type_url"] ?? null)}) not implemented by the Envoy test double`];
    const shape = types[url];
    if (shape === undefined) return [`${path}: ${url} not implemented by the Envoy test double`];
    return checkShape(shape, rest, `${path}<${url.slice(url.lastIndexOf(".") + 1)}>`);
  };
}

/** A google.protobuf.Duration, as xDS decodes it (`{seconds, nanos}`) or as a bootstrap file writes it (`"5s"`). */
export const DURATION: Check = (v, path) => (durationMs(v) === null ? [`${path}: expected a Duration`] : []);

/** Envoy's idle timeout of an HTTP connection when `common_http_protocol_options.idle_timeout` is unset (1 h), for
 * a connection manager's downstream connections and a cluster's upstream ones alike. */
export const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

/** A Duration in milliseconds, or null when `v` is none. */
export function durationMs(v: unknown): number | null {
  if (typeof v === "string") {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(v);
    return m ? Math.round(Number(m[1]) * 1000) : null;
  }
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (Object.keys(o).some((k) => k !== "seconds" && k !== "nanos")) return null;
    return Number(o["seconds"] ?? 0) * 1000 + Math.round(Number(o["nanos"] ?? 0) / 1e6);
  }
  return null;
}

/** A wrapper (UInt32Value…): `{value}`. */
export const WRAPPED: Shape = { value: "number" };

/** The number in a wrapper, or `fallback` when absent. */
export function unwrap(v: unknown, fallback: number): number {
  const inner = (v as { value?: unknown } | undefined)?.value;
  return inner === undefined ? fallback : Number(inner);
}
