// The --actual file: an ActualState written as JSON or YAML, checked by hand so that every problem is
// reported at once, each naming the file and the entry (`actual.json: resources[3] (k8s/eu1/…): missing "object"`).
// A JSON file can also be read chunk by chunk (readActualJson): each resource is parsed, checked and, when it
// is identical to its desired counterpart, replaced by it, so a large in-sync state costs no second copy. An
// entry whose text is byte for byte the JSON of the desired resource expected there is not even parsed.
import { load } from "js-yaml";
import { InputError, type ActualResource, type ActualState, type DesiredState, type Runtime, type UnreachableTarget } from "../model/index.js";
import { sameJson } from "../compare/compare.js";
import { asJson } from "../compare/options.js";
import { isObj, nonEmpty } from "../runtimes/check.js";
import { hooksOf, RUNTIME_ORDER } from "../runtimes/index.js";
import { readJsonStreaming, type Fill } from "./json-stream.js";

type Obj = Record<string, unknown>;

const ENTRY_FIELDS = new Set(["runtime", "key", "app", "target", "observed", ...RUNTIME_ORDER.map((r) => hooksOf(r).actualFile.payload)]);
const TOP_FIELDS = new Set(["env", "observedAt", "resources", "unreachable"]);
/** The `observed` fields an entry may give (those of every runtime, in runtime order), with their values. */
const OBSERVED: Record<string, readonly string[]> = Object.assign({}, ...RUNTIME_ORDER.map((r) => hooksOf(r).actualFile.observed ?? {}));

/** Parses and checks an actual-state file (JSON, or YAML when the name does not end in `.json`). `env` may
 * be left out; when given it must be `envName`. Throws an InputError listing every problem found. With
 * `desired`, resources identical to a desired one are that object (saves memory, same values). */
export function parseActualState(text: string, file: string, envName: string, desired?: DesiredState): ActualState {
  return checkActualState(parseDocument(text, file), file, envName, new Entries(desired));
}

/** {@link parseActualState} of a JSON file read chunk by chunk through `fill`, each resource checked as it is
 * read. Null when the file is not JSON this reader handles (a syntax error, odd structure): parse the whole
 * text then, which gives the same result or the usual error. */
export async function readActualJson(fill: Fill, file: string, envName: string, desired?: DesiredState, bufferSize?: number): Promise<ActualState | null> {
  const entries = new Entries(desired);
  const doc = await readJsonStreaming(fill, "resources", (e, i, matched) => entries.add(e, i, matched), bufferSize, desired ? () => entries.guess() : undefined);
  return doc === null ? null : checkActualState(doc, file, envName, entries);
}

/** The checked entries of `resources`, in order, with their problems. */
class Entries {
  readonly problems: string[] = [];
  readonly checked: Checked[] = [];
  /** The place of each desired resource in the (key-sorted) desired list, by key. */
  private readonly desired: Map<string, number> | null;
  private readonly list: readonly unknown[];
  /** Where the next entry is expected in the desired list: files written from a desired state (`render
   * --as-actual`, a previous plan's state) list resources in the same order. */
  private next = 0;
  constructor(desired: DesiredState | undefined) {
    this.list = desired?.resources ?? [];
    this.desired = desired ? new Map(desired.resources.map((r, at) => [r.key, at])) : null;
  }

  /** The desired resource the next entry probably is (the one after the last entry's): when the entry's text is
   * that resource's JSON, the reader hands over the resource itself instead of parsing the text. */
  guess(): unknown {
    return this.list[this.next] ?? null;
  }

  /** Checks entry `index`. When it is the guessed desired resource itself (`matched`: its text was that resource's
   * JSON), the checks see what parsing its text would give (desired resources are plain JSON data) and it is kept
   * as it is; any other entry that is deeply the same as its desired resource is replaced by it. */
  add(entry: unknown, index: number, matched = false): void {
    const ok = checkResource(entry, index, this.problems);
    if (!ok) return;
    if (matched && entry === this.list[this.next]) {
      this.next++;
      this.checked.push({ resource: entry as ActualResource, index });
      return;
    }
    const at = this.desired?.get(ok.key);
    const same = at === undefined ? undefined : this.list[at];
    if (at !== undefined) this.next = at + 1;
    this.checked.push({ resource: same !== undefined && sameJson(asJson(same), asJson(ok)) ? (same as ActualResource) : ok, index });
  }
}

/** Checks a parsed document; `entries` has the resources already checked when they were read one by one
 * (the document holds `resources: []` then). */
function checkActualState(doc: unknown, file: string, envName: string, entries: Entries): ActualState {
  const problems: string[] = [];
  if (!isObj(doc)) throw new InputError(`${file}: must be an object with "resources" (an ActualState)`);
  for (const k of Object.keys(doc)) if (!TOP_FIELDS.has(k)) problems.push(`unknown field "${k}"`);
  if (doc["env"] !== undefined && doc["env"] !== envName) {
    problems.push(`env is ${JSON.stringify(doc["env"])} but the plan is for "${envName}"`);
  }
  if (doc["observedAt"] != null && typeof doc["observedAt"] !== "string") problems.push(`"observedAt" must be a string or null`);
  checkList(doc, "resources", true, problems).forEach((e, i) => entries.add(e, i));
  problems.push(...entries.problems);
  checkDuplicates(entries.checked, problems);
  const unreachable = checkList(doc, "unreachable", false, problems).flatMap((e, i) => checkUnreachable(e, `unreachable[${i}]`, problems));
  if (problems.length > 0) throw new InputError(problems.map((p) => `${file}: ${p}`).join("\n"));
  const observedAt = typeof doc["observedAt"] === "string" ? doc["observedAt"] : null;
  return { env: envName, observedAt, resources: entries.checked.map((r) => r.resource), unreachable };
}

function parseDocument(text: string, file: string): unknown {
  try {
    return file.endsWith(".json") ? JSON.parse(text) : load(text);
  } catch (e) {
    const err = e as Error & { reason?: string; mark?: { line: number; column: number } };
    const where = err.mark ? `:${err.mark.line + 1}:${err.mark.column + 1}` : "";
    const kind = file.endsWith(".json") ? "JSON" : "YAML";
    throw new InputError(`${file}${where}: invalid ${kind}: ${err.reason ?? err.message}`);
  }
}


function checkList(doc: Obj, field: string, required: boolean, problems: string[]): unknown[] {
  const v = doc[field];
  if (v === undefined && !required) return [];
  if (Array.isArray(v)) return v;
  problems.push(v === undefined ? `missing "${field}"` : `"${field}" must be a list`);
  return [];
}

interface Checked {
  resource: ActualResource;
  /** Its place in `resources`. */
  index: number;
}

/** Checks entry `index` of `resources`; returns it when usable (problems are still collected). Where a problem is
 * (`resources[3] (k8s/eu1/…)`) is written only for a problem: most entries have none, and at 10,000 apps the two
 * strings per entry were 140,000 for nothing. */
function checkResource(entry: unknown, index: number, problems: string[]): ActualResource | null {
  if (!isObj(entry)) {
    problems.push(`resources[${index}]: must be an object`);
    return null;
  }
  const key = entry["key"];
  const before = problems.length;
  const say = (msg: string) => problems.push(`resources[${index}]${typeof key === "string" && key !== "" ? ` (${key})` : ""}: ${msg}`);
  for (const k of Object.keys(entry)) if (!ENTRY_FIELDS.has(k)) say(`unknown field "${k}"`);
  if (typeof key !== "string" || key === "") say(key === undefined ? `missing "key"` : `"key" must be a non-empty string`);
  if (typeof entry["target"] !== "string" || entry["target"] === "") say(entry["target"] === undefined ? `missing "target"` : `"target" must be a non-empty string`);
  const runtime = entry["runtime"];
  if (!RUNTIME_ORDER.includes(runtime as Runtime)) {
    say(runtime === undefined ? `missing "runtime"` : `unknown runtime ${JSON.stringify(runtime)} (expected ${RUNTIME_ORDER.join(", ")})`);
  } else {
    checkApp(entry, runtime as Runtime, say);
    checkPayload(entry, runtime as Runtime, say);
  }
  checkObserved(entry["observed"], say);
  if (problems.length > before) return null;
  return (entry["app"] === undefined ? { ...entry, app: null } : entry) as unknown as ActualResource;
}

function checkApp(entry: Obj, runtime: Runtime, say: (m: string) => void): void {
  const app = entry["app"];
  const nullApp = hooksOf(runtime).actualFile.nullApp;
  if (nullApp) {
    if (app != null) say(`"app" must be null for ${nullApp}`);
  } else if (typeof app !== "string" || app === "") {
    say(app === undefined ? `missing "app"` : `"app" must be a non-empty string`);
  }
}

/** The payload must be an object; the fields the diff and plan read from it must have their types. */
function checkPayload(entry: Obj, runtime: Runtime, say: (m: string) => void): void {
  const { payload: field, check } = hooksOf(runtime).actualFile;
  const p = entry[field];
  if (!isObj(p)) return say(p === undefined ? `missing "${field}"` : `"${field}" must be an object`);
  check(p, (path, ok, what) => ok || say(`"${field}.${path}" must be ${what}`));
}

function checkObserved(observed: unknown, say: (m: string) => void): void {
  if (observed === undefined) return;
  if (!isObj(observed)) return say(`"observed" must be an object`);
  for (const [k, v] of Object.entries(observed)) {
    const allowed = OBSERVED[k];
    if (!allowed) say(`unknown field "observed.${k}" (expected ${Object.keys(OBSERVED).join(", ")})`);
    else if (!allowed.includes(v as string)) say(`"observed.${k}" is ${JSON.stringify(v)}; expected ${allowed.join(", ")}`);
  }
}

function checkDuplicates(resources: Checked[], problems: string[]): void {
  const seen = new Map<string, number>();
  for (const { resource, index } of resources) {
    const first = seen.get(resource.key);
    if (first !== undefined) problems.push(`resources[${index}] (${resource.key}): duplicate key (first at resources[${first}])`);
    else seen.set(resource.key, index);
  }
}

function checkUnreachable(entry: unknown, at: string, problems: string[]): UnreachableTarget[] {
  if (!isObj(entry)) {
    problems.push(`${at}: must be an object`);
    return [];
  }
  const before = problems.length;
  if (!RUNTIME_ORDER.includes(entry["runtime"] as Runtime)) problems.push(`${at}: "runtime" must be one of ${RUNTIME_ORDER.join(", ")}`);
  if (!nonEmpty(entry["target"])) problems.push(`${at}: "target" must be a non-empty string`);
  if (typeof entry["reason"] !== "string") problems.push(`${at}: "reason" must be a string`);
  if (problems.length > before) return [];
  return [{ runtime: entry["runtime"] as Runtime, target: entry["target"] as string, reason: entry["reason"] as string }];
}
