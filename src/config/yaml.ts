// One YAML file → its document and a position map, or located problems (syntax, duplicate keys, empty).
import { CORE_SCHEMA, YAMLException, constructFromEvents, mergeTag, parseEvents, type Event } from "js-yaml";
import type { Problem } from "../model/index.js";
import { buildPositionMap, type PositionMap } from "./positions.js";
import { FileLocator, fileProblem, positionedProblem } from "./problems.js";
import { parseSimpleYaml, simpleTags } from "./yaml-simple.js";

/** YAML 1.2 core schema plus merge keys (`<<: *defaults`), which people expect from Kubernetes YAML. */
export const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

/** A parsed YAML file: the document and where each of its nodes sits. */
export interface ParsedYaml {
  doc: unknown;
  loc: FileLocator;
}

/** What the simple-form parser builds with: this schema's own tags. */
const TAGS = simpleTags(SCHEMA);

/** Parses one file holding exactly one YAML document; returns problems instead of throwing. */
export function parseYaml(file: string, text: string): ParsedYaml | Problem[] {
  // Most config files are in the simple form yaml-simple.ts reads (the same value, several times faster);
  // js-yaml reads every other file and says what is wrong with a broken one.
  const plains = new Map<string, string>();
  const simple = parseSimpleYaml(text, TAGS, plains);
  if (simple !== undefined && simple !== null) return { doc: simple, loc: lazyLocator(file, text, plains.size > 0 ? plains : undefined) };
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file });
  } catch (e) {
    return [yamlProblem(file, e, null)];
  }
  const positions = buildPositionMap(text, events);
  let docs: unknown[];
  try {
    docs = constructFromEvents(events, { source: text, filename: file, schema: SCHEMA });
  } catch (e) {
    return [yamlProblem(file, e, positions)];
  }
  if (docs.length > 1) return [secondDocument(file, text, events, positions)];
  if (docs.length === 0 || docs[0] === null || docs[0] === undefined) {
    return [fileProblem(file, "empty file", { hint: `expected a YAML mapping with apiVersion, kind and spec` })];
  }
  // The events are garbage now; the locator parses the text again if a problem or a number's spelling needs them.
  return { doc: docs[0], loc: lazyLocator(file, text) };
}

/** A locator whose positions are parsed from the text on first use (valid files never need them). */
function lazyLocator(file: string, text: string, plains?: ReadonlyMap<string, string>): FileLocator {
  return new FileLocator(file, buildPositionMap(text, () => parseEvents(text, { filename: file }), plains));
}

/** Turns a js-yaml exception into a located problem; duplicate keys also get their pointer. */
function yamlProblem(file: string, e: unknown, positions: PositionMap | null): Problem {
  if (!(e instanceof YAMLException)) {
    return fileProblem(file, `cannot parse YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const line = (e.mark?.line ?? -1) + 1;
  const column = (e.mark?.column ?? -1) + 1;
  const reason = e.reason || e.message;
  if (/duplicat/i.test(reason) && positions && e.mark) {
    const pointer = positions.pointerOfKeyAt(e.mark.position);
    if (pointer !== null) {
      const key = decodeLast(pointer);
      return { file, line, column, pointer, message: `duplicate key "${key}"`, hint: "a key may appear only once in a mapping", severity: "error" };
    }
  }
  const hint = /tab/i.test(reason) ? "indent with spaces, not tabs" : undefined;
  return positionedProblem(file, Math.max(line, 0), Math.max(column, 0), `invalid YAML: ${reason}`, hint);
}

/** Problem for a second `---` document: amphi reads one document per file. */
function secondDocument(file: string, text: string, events: Event[], positions: PositionMap): Problem {
  let docs = 0;
  for (const ev of events) {
    if (ev.type === 1) docs++;
    else if (docs === 2 && "start" in ev) return at(ev.start);
    else if (docs === 2 && "valueStart" in ev && ev.valueStart >= 0) return at(ev.valueStart);
  }
  return at(text.length);

  function at(offset: number): Problem {
    const pos = positions.pos(offset);
    return positionedProblem(file, pos.line, pos.column, "more than one YAML document in the file", "amphi reads one document per file; remove the extra `---`");
  }
}

function decodeLast(pointer: string): string {
  return pointer.slice(pointer.lastIndexOf("/") + 1).replace(/~1/g, "/").replace(/~0/g, "~");
}
