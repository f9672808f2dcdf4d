// ajv errors → problems a person can act on: `unknown key "healtCheck"; did you mean "healthCheck"?`.
// Errors of the branches of anyOf/oneOf/not/if are folded into one message about the node.
import type { ErrorObject } from "ajv/dist/2020.js";
import type { Problem } from "../model/index.js";
import type { FileLocator } from "./problems.js";
import { patternMessage } from "./patterns.js";
import { didYouMean } from "./suggest.js";

type Err = ErrorObject;
type Located = { message: string; hint?: string; at?: "key" | "value" | "node"; pointer?: string };

/** Maps ajv errors (with `verbose: true`) to located problems. */
export function ajvProblems(errors: Err[], loc: FileLocator): Problem[] {
  return foldBranches(errors).flatMap((e) => {
    const m = describe(e);
    if (m === null) return [];
    return [loc.problem(m.pointer ?? e.instancePath, m.message, { hint: m.hint, at: m.at ?? "value" })];
  });
}

/** Drops `if` errors and the errors inside anyOf/oneOf/not: those get one message of their own. */
function foldBranches(errors: Err[]): Err[] {
  const folds = errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf" || e.keyword === "not");
  return errors.filter(
    (e) =>
      e.keyword !== "if" &&
      !folds.some((f) => f !== e && e.instancePath.startsWith(f.instancePath) && e.schemaPath.startsWith(f.schemaPath + "/")),
  );
}

/** The message for one error, or null when another error on the same node says it better. */
function describe(e: Err): Located | null {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties":
      return unknownKey(e, String(p.additionalProperty));
    case "required":
      return missing(e, String(p.missingProperty));
    case "type":
      return typeMismatch(String(p.type).split(","), e.data);
    case "enum":
      return enumMismatch(e.schema as unknown[], e.data);
    case "const":
      return { message: `must be ${JSON.stringify(e.schema)}, not ${preview(e.data)}` };
    case "minimum":
    case "maximum":
      return range(e);
    case "minItems":
    case "minLength":
    case "minProperties":
      return { message: "must not be empty" };
    case "maxLength":
    case "pattern":
      return patternMessage(e.parentSchema?.pattern as string | undefined, e.data) ?? { message: `must match ${String(e.schema)}` };
    case "format":
      return { message: `${preview(e.data)} is not ${formatName(String(p.format))}` };
    case "anyOf":
      return anyOf(e);
    case "oneOf":
      return sourceChoice(e.data, (p.passingSchemas as number[] | null) !== null);
    case "not":
      return sourceChoice(e.data, true);
    default:
      return { message: e.message ?? `fails ${e.keyword}` };
  }
}

function unknownKey(e: Err, key: string): Located {
  const pointer = `${e.instancePath}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
  const allowed = Object.keys((e.parentSchema?.properties ?? {}) as object);
  if (key === "cluster" && allowed.includes("hostGroup")) {
    return { pointer, at: "key", message: `a placement has either "cluster" or "hostGroup", not both`, hint: "use two placements to run the app on both" };
  }
  const hint = didYouMean(key, allowed) ?? `allowed keys: ${allowed.join(", ")} (and x-… annotations)`;
  return { pointer, at: "key", message: `unknown key "${key}"`, hint };
}

function missing(e: Err, key: string): Located {
  const props = (e.parentSchema?.properties ?? {}) as Record<string, unknown>;
  if (key === "cluster" && !("hostGroup" in props)) {
    return { at: "node", message: `a placement needs "cluster" or "hostGroup"` };
  }
  return { at: "node", message: `missing required key "${key}"` };
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  null: "empty",
};

function typeMismatch(types: string[], data: unknown): Located {
  const message = `must be ${types.map((t) => TYPE_NAMES[t] ?? t).join(" or ")}, not ${preview(data)}`;
  if (types.includes("string") && (typeof data === "number" || typeof data === "boolean")) {
    return { message, hint: `quote it: "${String(data)}"` };
  }
  if ((types.includes("integer") || types.includes("number")) && typeof data === "string" && /^-?\d+(\.\d+)?$/.test(data)) {
    return { message, hint: "remove the quotes" };
  }
  return { message };
}

function enumMismatch(allowed: unknown[], data: unknown): Located {
  const words = allowed.map(String);
  const hint = typeof data === "string" ? didYouMean(data, words) : undefined;
  return { message: `must be one of ${words.join(", ")}`, hint };
}

function range(e: Err): Located {
  const min = e.parentSchema?.minimum as number | undefined;
  const max = e.parentSchema?.maximum as number | undefined;
  if (min !== undefined && max !== undefined) return { message: `must be between ${min} and ${max}, not ${preview(e.data)}` };
  if (min !== undefined) return { message: `must be at least ${min}, not ${preview(e.data)}` };
  return { message: `must be at most ${max}, not ${preview(e.data)}` };
}

/** One message for an anyOf: "a string or a number", or "an IPv4 address or a hostname". */
function anyOf(e: Err): Located {
  const branches = (e.schema ?? []) as { type?: string; format?: string; pattern?: string }[];
  if (branches.some((b) => b.format)) {
    return { message: `${preview(e.data)} is not ${branches.map((b) => formatName(b.format ?? b.type ?? "")).join(" or ")}` };
  }
  const types = branches.map((b) => b.type ?? "?");
  if (e.data === "" && types.includes("string")) return { message: "must not be empty" };
  // A string that has the right type but not the string branch's pattern (a package version).
  const pattern = branches.find((b) => b.type === "string")?.pattern;
  if (typeof e.data === "string" && pattern !== undefined) return patternMessage(pattern, e.data) ?? { message: `must match ${pattern}` };
  return typeMismatch(types, e.data);
}

/** Package `path`/`url`: exactly one in a package, at most one in an override. Not a mapping at all:
 * the type error says so (`required` holds vacuously for non-objects, so this one would mislead). */
function sourceChoice(data: unknown, both: boolean): Located | null {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const has = (k: string) => k in data;
  if (both || (has("path") && has("url"))) return { at: "node", message: `give either "path" or "url", not both` };
  return { at: "node", message: `a package needs "path" (a file in this repo) or "url"` };
}

const FORMAT_NAMES: Record<string, string> = {
  ipv4: "an IPv4 address",
  hostname: "a hostname",
  uri: "a URL",
  "json-pointer": "a JSON pointer (e.g. /spec/replicas)",
};

function formatName(format: string): string {
  return FORMAT_NAMES[format] ?? `a valid ${format}`;
}

/** A short rendering of a value for messages: strings quoted and cut at 60 characters. */
export function preview(value: unknown): string {
  if (value === null || value === undefined) return "empty";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? value.slice(0, 57) + "…" : value);
  return String(value);
}
