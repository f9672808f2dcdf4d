// One config file → its problems and, when it is valid on its own, its normalized model.
// The name is resolved even for invalid files, so other files' references to it are not reported twice.
import type { AppModel, EnvironmentModel, Problem } from "../model/index.js";
import { normalizeApp } from "./normalize-app.js";
import { normalizeEnvironment } from "./normalize-env.js";
import { DNS_LABEL, dnsLabelMessage } from "./patterns.js";
import { escapePointer } from "./positions.js";
import { fileProblem, type FileLocator } from "./problems.js";
import type { RawApp, RawEnvironment } from "./raw.js";
import { checkAppFile, checkEnvironmentFile } from "./rules-file.js";
import { validateSchema, type DocKind } from "./schema.js";
import { parseYaml } from "./yaml.js";

/** What loading one file gave. `name` is metadata.name, else the folder or file name. */
export interface FileResult<M, R> {
  file: string;
  name: string;
  /** `/metadata/name` when the name was written there, `""` when it comes from the file or folder name. */
  namePointer: string;
  problems: Problem[];
  loc: FileLocator | null;
  raw: R | null;
  model: M | null;
}

/** Loads `apps/<stem>/spec.yaml`. */
export function loadAppFile(file: string, stem: string, text: string | null): FileResult<AppModel, RawApp> {
  return loadFile<AppModel, RawApp>("Application", file, stem, text, (raw, name, loc) => ({
    problems: checkAppFile(raw, name, loc),
    model: normalizeApp(raw, name, loc),
  }));
}

/** Loads `environments/<stem>.yaml` (placements are resolved later, with the apps). */
export function loadEnvironmentFile(file: string, stem: string, text: string | null): FileResult<EnvironmentModel, RawEnvironment> {
  return loadFile<EnvironmentModel, RawEnvironment>("Environment", file, stem, text, (raw, name, loc) => ({
    problems: checkEnvironmentFile(raw, loc),
    model: normalizeEnvironment(raw, name, loc),
  }));
}

type Finish<M, R> = (raw: R, name: string, loc: FileLocator) => { problems: Problem[]; model: M };

function loadFile<M, R>(kind: DocKind, file: string, stem: string, text: string | null, finish: Finish<M, R>): FileResult<M, R> {
  // Until metadata.name is read, the folder/file name stands in: references to an app whose file does
  // not even parse are then not reported a second time as "unknown app".
  const result: FileResult<M, R> = { file, name: stem, namePointer: "", problems: [], loc: null, raw: null, model: null };
  if (text === null) {
    result.problems.push(fileProblem(file, "file disappeared while reading"));
    return result;
  }
  const parsed = parseYaml(file, text);
  if (Array.isArray(parsed)) {
    result.problems.push(...parsed);
    return result;
  }
  result.loc = parsed.loc;
  // Only these errors for a file with NUL bytes: other messages would quote the values.
  // A NUL in what was parsed comes from a NUL byte or an escape (`\0`, `\x00`, `\u0000`): without either in the
  // text (nearly every file), the document is not walked.
  const nul = (text.includes("\0") || text.includes("\\")) && hasNul(parsed.doc) ? nulBytes(parsed.doc, "", parsed.loc) : [];
  if (nul.length > 0) {
    result.problems.push(...nul);
    return result;
  }
  const written = writtenName(parsed.doc);
  result.name = written ?? stem;
  result.namePointer = written === null ? "" : "/metadata/name";
  result.problems.push(...validateSchema(kind, parsed.doc, parsed.loc));
  if (written === null && !DNS_LABEL.test(stem)) result.problems.push(stemProblem(kind, file, stem));
  if (result.problems.some((p) => p.severity === "error")) return result;
  result.raw = parsed.doc as R;
  const done = finish(result.raw, result.name, parsed.loc);
  result.problems.push(...done.problems);
  result.model = done.model;
  return result;
}

const NUL_MESSAGE = "contains a NUL byte; no environment variable, file or shell command can carry one";

/** Every string (value or key) with a NUL byte (YAML's `"\0"` escape; a raw NUL is already a YAML error). Why:
 * env values, start commands and paths end up in env files, argv and shell scripts, all of which end a string
 * at NUL — what runs would not be what was reviewed. The pointer shows the byte as `\u0000`. */
function nulBytes(node: unknown, pointer: string, loc: FileLocator): Problem[] {
  const shown = (p: Problem): Problem => ({ ...p, pointer: p.pointer.replaceAll("\0", "\\u0000") });
  if (typeof node === "string") return node.includes("\0") ? [shown(loc.problem(pointer, NUL_MESSAGE))] : [];
  if (Array.isArray(node)) return node.flatMap((v, i) => nulBytes(v, `${pointer}/${i}`, loc));
  if (typeof node !== "object" || node === null) return [];
  return Object.entries(node).flatMap(([k, v]) => {
    const child = `${pointer}/${escapePointer(k)}`;
    const key = k.includes("\0") ? [shown(loc.problem(child, `the key ${NUL_MESSAGE}`, { at: "key" }))] : [];
    return [...key, ...nulBytes(v, child, loc)];
  });
}

/** Whether any string (value or key) in the document has a NUL byte: the walk of {@link nulBytes} without a
 * pointer or a list per node, for the files that have none (all but a few). */
function hasNul(node: unknown): boolean {
  if (typeof node === "string") return node.includes("\0");
  if (typeof node !== "object" || node === null) return false;
  if (Array.isArray(node)) return node.some(hasNul);
  for (const k in node) if (Object.hasOwn(node, k) && (k.includes("\0") || hasNul((node as Record<string, unknown>)[k]))) return true;
  return false;
}

/** `metadata.name` when it is a string, else null. */
function writtenName(doc: unknown): string | null {
  const meta = (doc as { metadata?: unknown } | null)?.metadata;
  const name = (meta as { name?: unknown } | null | undefined)?.name;
  return typeof name === "string" ? name : null;
}

function stemProblem(kind: DocKind, file: string, stem: string): Problem {
  const { message } = dnsLabelMessage(stem);
  const from = kind === "Application" ? "folder" : "file";
  return fileProblem(file, `the ${kind === "Application" ? "app" : "environment"} name comes from the ${from} name: ${message}`, {
    hint: `rename the ${from} or set metadata.name`,
  });
}
