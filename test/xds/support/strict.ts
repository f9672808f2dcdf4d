// A strict check of an Envoy resource (plain JSON, snake_case as the protos) against its proto type: protobufjs's
// `fromObject` drops unknown fields and coerces types silently, so this walks the object itself and reports every
// unknown field, wrong type, bad enum value, unresolved `Any` type, two members of one oneof, and broken
// protoc-gen-validate rules (required messages and oneofs, string lengths, numeric bounds, repeated min_items).
import protobuf from "protobufjs";

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sint64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sfixed64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  fixed64: [0, Number.MAX_SAFE_INTEGER],
};

/** Every problem of `value` as a `typeName` message, each as `<path>: <problem>`; empty: it decodes strictly.
 * `json`: the value is in proto3's JSON mapping (what Envoy reads from a YAML/JSON file), where a Duration is a
 * string such as `"5s"` and a Struct any JSON object; otherwise it is the object form the xDS server encodes. */
export function strictCheck(root: protobuf.Root, typeName: string, value: unknown, opts: { json?: boolean } = {}): string[] {
  const errors: string[] = [];
  jsonMapping = opts.json === true;
  try {
    walkMessage(root, root.lookupType(typeName), value, typeName, errors);
  } finally {
    jsonMapping = false;
  }
  return errors;
}

let jsonMapping = false;

/** The JSON mapping of the wrapper types: the wrapped value itself (64-bit integers may be strings). */
const isInt = (lo: number, hi: number) => (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
const isInt64 = (lo: number, hi: number) => (v: unknown) => isInt(lo, hi)(v) || (typeof v === "string" && /^-?\d+$/.test(v));
const WRAPPERS: Record<string, (v: unknown) => boolean> = {
  ".google.protobuf.UInt32Value": isInt(0, 2 ** 32 - 1),
  ".google.protobuf.Int32Value": isInt(-(2 ** 31), 2 ** 31 - 1),
  ".google.protobuf.UInt64Value": isInt64(0, Number.MAX_SAFE_INTEGER),
  ".google.protobuf.Int64Value": isInt64(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  ".google.protobuf.DoubleValue": (v) => typeof v === "number",
  ".google.protobuf.FloatValue": (v) => typeof v === "number",
  ".google.protobuf.BoolValue": (v) => typeof v === "boolean",
  ".google.protobuf.StringValue": (v) => typeof v === "string",
};

function walkMessage(root: protobuf.Root, type: protobuf.Type, value: unknown, path: string, errors: string[]): void {
  if (jsonMapping && type.fullName === ".google.protobuf.Duration") {
    if (typeof value !== "string" || !/^-?\d+(\.\d{1,9})?s$/.test(value)) errors.push(`${path}: expected a Duration string such as "5s", got ${JSON.stringify(value)}`);
    return;
  }
  // A wrapper (UInt32Value, BoolValue …) is its bare value in the JSON mapping: `destination_port: 15001`.
  const wrapped = jsonMapping ? WRAPPERS[type.fullName] : undefined;
  if (wrapped !== undefined) {
    if (!wrapped(value)) errors.push(`${path}: expected a bare ${type.fullName.slice(1)} value, got ${JSON.stringify(value)}`);
    return;
  }
  if (jsonMapping && type.fullName === ".google.protobuf.Struct") {
    if (value === null || typeof value !== "object" || Array.isArray(value)) errors.push(`${path}: expected a JSON object (Struct)`);
    return;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    errors.push(`${path}: expected a ${type.fullName.slice(1)} object, got ${JSON.stringify(value)}`);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (type.fullName === ".google.protobuf.Any") {
    const url = obj["@type"];
    if (typeof url !== "string") return void errors.push(`${path}: Any without @type`);
    const inner = root.lookup(url.slice(url.lastIndexOf("/") + 1));
    if (!(inner instanceof protobuf.Type)) return void errors.push(`${path}: Any type ${url} does not resolve`);
    const { ["@type"]: _drop, ...rest } = obj;
    return walkMessage(root, inner, rest, `${path}<${inner.name}>`, errors);
  }
  for (const key of Object.keys(obj)) {
    if (!type.fields[key]) errors.push(`${path}.${key}: no such field in ${type.fullName.slice(1)}`);
  }
  for (const field of type.fieldsArray) {
    field.resolve();
    walkField(root, field, obj[field.name], `${path}.${field.name}`, errors);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.fieldsArray.filter((f) => obj[f.name] !== undefined).map((f) => f.name);
    if (set.length > 1) errors.push(`${path}: oneof ${oneof.name} has ${set.join(" and ")}`);
    if (set.length === 0 && oneof.options?.["(validate.required)"] === true) errors.push(`${path}: oneof ${oneof.name} is required`);
  }
}

function walkField(root: protobuf.Root, field: protobuf.Field, value: unknown, path: string, errors: string[]): void {
  const rules = rulesOf(field);
  if (value === undefined || value === null) {
    // A oneof member's rules apply only when it is the member set.
    if (field.partOf) return;
    if (rules["message.required"] === true || rules["duration.required"] === true || rules["timestamp.required"] === true) errors.push(`${path}: required`);
    if (field.repeated && typeof rules["repeated.min_items"] === "number" && rules["repeated.min_items"] > 0) errors.push(`${path}: at least ${rules["repeated.min_items"]} items`);
    // Scalars are their zero value when absent, and their rules apply to it (proto3, as protoc-gen-validate does).
    if (!field.repeated && !field.map && !field.resolvedType) checkScalarRules(field, zeroOf(field.type), rules, path, errors);
    return;
  }
  if (field.map) {
    if (typeof value !== "object" || Array.isArray(value)) return void errors.push(`${path}: expected a map object`);
    for (const [k, v] of Object.entries(value as object)) walkSingle(root, field, v, `${path}[${k}]`, errors, {});
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) return void errors.push(`${path}: expected an array`);
    const min = rules["repeated.min_items"];
    if (typeof min === "number" && value.length < min) errors.push(`${path}: at least ${min} items, got ${value.length}`);
    value.forEach((v, i) => walkSingle(root, field, v, `${path}[${i}]`, errors, {}));
    return;
  }
  walkSingle(root, field, value, path, errors, rules);
}

function walkSingle(root: protobuf.Root, field: protobuf.Field, value: unknown, path: string, errors: string[], rules: Record<string, unknown>): void {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) {
    const ok = typeof value === "string" ? value in rt.values : typeof value === "number" && value in rt.valuesById;
    if (!ok) errors.push(`${path}: ${JSON.stringify(value)} is not a value of ${rt.fullName.slice(1)}`);
    return;
  }
  if (rt instanceof protobuf.Type) {
    walkMessage(root, rt, value, path, errors);
    // Numeric rules on a wrapper field apply to its value.
    const inner = (value as Record<string, unknown> | null)?.["value"];
    if (rt.fullName.startsWith(".google.protobuf.") && rt.fullName.endsWith("Value") && inner !== undefined) checkNumberRules(inner, rules, path, errors);
    return;
  }
  checkScalarRules(field, value, rules, path, errors);
}

function checkScalarRules(field: protobuf.Field, value: unknown, rules: Record<string, unknown>, path: string, errors: string[]): void {
  const t = field.type;
  if (t === "string") {
    if (typeof value !== "string") return void errors.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
    const min = rules["string.min_len"] ?? rules["string.min_bytes"];
    if (typeof min === "number" && value.length < min) errors.push(`${path}: at least ${min} characters`);
    return;
  }
  if (t === "bool") {
    if (typeof value !== "boolean") errors.push(`${path}: expected a boolean, got ${JSON.stringify(value)}`);
    return;
  }
  if (t === "bytes") {
    if (typeof value !== "string" && !(value instanceof Uint8Array)) errors.push(`${path}: expected bytes`);
    return;
  }
  if (t === "double" || t === "float") {
    if (typeof value !== "number") return void errors.push(`${path}: expected a number, got ${JSON.stringify(value)}`);
    return checkNumberRules(value, rules, path, errors);
  }
  const range = INT_RANGES[t];
  if (!range) return void errors.push(`${path}: unknown scalar type ${t}`);
  const n = typeof value === "string" && /^-?\d+$/.test(value) && t.endsWith("64") ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n)) return void errors.push(`${path}: expected an integer (${t}), got ${JSON.stringify(value)}`);
  if (n < range[0] || n > range[1]) errors.push(`${path}: ${n} out of ${t} range`);
  checkNumberRules(n, rules, path, errors);
}

function checkNumberRules(value: unknown, rules: Record<string, unknown>, path: string, errors: string[]): void {
  if (typeof value !== "number") return;
  for (const [rule, bound] of Object.entries(rules)) {
    if (typeof bound !== "number") continue;
    const op = rule.slice(rule.indexOf(".") + 1);
    const bad = (op === "gt" && !(value > bound)) || (op === "gte" && !(value >= bound)) || (op === "lt" && !(value < bound)) || (op === "lte" && !(value <= bound));
    if (bad) errors.push(`${path}: ${value} breaks ${op} ${bound}`);
  }
}

/** The field's protoc-gen-validate rules, keyed `<kind>.<rule>` (`string.min_len`, `uint32.lte`, `message.required`). */
function rulesOf(field: protobuf.Field): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(field.options ?? {})) {
    if (k.startsWith("(validate.rules).")) out[k.slice("(validate.rules).".length)] = v;
  }
  return out;
}

function zeroOf(type: string): unknown {
  return type === "string" ? "" : type === "bool" ? false : type === "bytes" ? "" : 0;
}
