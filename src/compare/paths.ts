// Field paths inside a resource: structural segments, their printed form, and JSON-pointer matching.
import type { Json } from "../model/index.js";

/** One step into a JSON value: an object key, or an array element (with its `name` when it has one). */
export type Segment = { key: string } | { index: number; name?: string };

/** A plain JSON object (not an array, not null). */
export type JsonObject = { [key: string]: Json };

/** Whether a value is a plain JSON object. */
export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The segment of array element `index`, named when the element is an object with a string `name`. */
export function elementSegment(index: number, element: Json | undefined): Segment {
  const name = isObject(element) ? element["name"] : undefined;
  return typeof name === "string" ? { index, name } : { index };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const PLAIN_NAME = /^[A-Za-z0-9_.:/-]+$/;

/** Prints segments as a readable path: `spec.template.spec.containers[name=app].image`,
 * `metadata.annotations["amphi.dev/spec-hash"]`, `hooks[0].rule`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = "";
  for (const seg of segments) {
    if ("key" in seg) {
      if (IDENTIFIER.test(seg.key)) out += out === "" ? seg.key : `.${seg.key}`;
      else out += `[${JSON.stringify(seg.key)}]`;
    } else if (seg.name !== undefined) {
      out += `[name=${PLAIN_NAME.test(seg.name) ? seg.name : JSON.stringify(seg.name)}]`;
    } else {
      out += `[${seg.index}]`;
    }
  }
  return out;
}

/** Splits a JSON pointer (RFC 6901) into unescaped tokens; `""` is the whole document. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`invalid JSON pointer "${pointer}": must start with "/"`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** A predicate that is true for a path at or under any of the pointers. An array token matches an
 * element by its index or, for elements with a `name`, by that name: `/spec/template/spec/containers/app/image`
 * names the container `app` wherever it sits in the list. */
export function pointerMatcher(pointers: readonly string[]): (segments: readonly Segment[]) => boolean {
  const parsed = pointers.map(parsePointer);
  if (parsed.length === 0) return () => false;
  return (segments) => parsed.some((tokens) => tokensMatch(tokens, segments));
}

function tokensMatch(tokens: readonly string[], segments: readonly Segment[]): boolean {
  if (tokens.length > segments.length) return false;
  return tokens.every((token, i) => {
    const seg = segments[i]!;
    if ("key" in seg) return seg.key === token;
    return token === String(seg.index) || (seg.name !== undefined && token === seg.name);
  });
}
