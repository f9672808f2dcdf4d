// Where each node of a YAML document sits in its source: JSON pointer → offsets of key and value.
// js-yaml's values carry no positions, so the map is built from the same parser events the
// document is constructed from (one parse, no second scanner to drift out of sync).
import { EVENT_ID, SCALAR_STYLE, getScalarValue, type Event, type ScalarEvent } from "js-yaml";

/** A 1-based line and column. */
export interface Pos {
  line: number;
  column: number;
}

interface Entry {
  /** Offset of the mapping key naming this node, when it is a mapping value. */
  key?: number;
  /** Offset where the node itself starts; the key's offset for an empty (null) value. */
  value: number;
  /** The source text of a plain scalar (how a number was written, e.g. `1.10`). */
  plain?: string;
}

/** Positions of every node of one document, by JSON pointer. Built on first use: a valid file never
 * needs it, and skipping it keeps loading 1000 specs cheap. */
export class PositionMap {
  private built: { entries: Map<string, Entry>; lineStarts: number[] } | null = null;

  constructor(
    private readonly source: string,
    private events: Event[] | (() => Event[]),
    /** Plain scalars already known (pointer → text), answered without building the map. */
    private readonly plains?: ReadonlyMap<string, string>,
  ) {}

  private get entries(): Map<string, Entry> {
    return this.build().entries;
  }

  private build(): { entries: Map<string, Entry>; lineStarts: number[] } {
    if (this.built) return this.built;
    const lineStarts = [0];
    for (let i = this.source.indexOf("\n"); i !== -1; i = this.source.indexOf("\n", i + 1)) lineStarts.push(i + 1);
    const events = typeof this.events === "function" ? this.events() : this.events;
    this.built = { entries: buildEntries(this.source, events), lineStarts };
    this.events = [];
    return this.built;
  }

  /** Position of the node (or of its key) at `pointer`, falling back to the nearest ancestor present. */
  at(pointer: string, where: "key" | "value"): Pos {
    for (let p = pointer; ; p = parentPointer(p)) {
      const entry = this.entries.get(p);
      if (entry) return this.pos(where === "key" && entry.key !== undefined ? entry.key : entry.value);
      if (p === "") return { line: 1, column: 1 };
    }
  }

  /** Whether the document has a node at `pointer`. */
  has(pointer: string): boolean {
    return this.entries.has(pointer);
  }

  /** The source text of a plain scalar at `pointer`, or null when it is quoted, a collection or absent. */
  plainText(pointer: string): string | null {
    return this.plains?.get(pointer) ?? this.entries.get(pointer)?.plain ?? null;
  }

  /** The keys of the mapping at `pointer` as written (a key `1.0` stays `1.0`, where the parsed document has `1`),
   * in document order (a sequence's indices); empty when nothing is there. */
  keysOf(pointer: string): string[] {
    const out: string[] = [];
    for (const p of this.entries.keys()) {
      if (parentPointer(p) !== pointer || p === pointer) continue;
      const key = unescapePointer(p.slice(pointer.length + 1));
      if (key !== "\u0000complex") out.push(key);
    }
    return out;
  }

  /** The pointer of the mapping key starting at `offset` (for js-yaml errors such as duplicate keys). */
  pointerOfKeyAt(offset: number): string | null {
    for (const [pointer, entry] of this.entries) if (entry.key === offset) return pointer;
    return null;
  }

  /** Converts a source offset into a 1-based line and column. */
  pos(offset: number): Pos {
    const starts = this.build().lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  }
}

/** Escapes one JSON pointer segment (RFC 6901). */
export function escapePointer(segment: string): string {
  // Almost no key has either character: skip the two replaces (a spec's numbers each build a pointer while parsing).
  if (!segment.includes("~") && !segment.includes("/")) return segment;
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Unescapes one JSON pointer segment (RFC 6901). */
export function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** The pointer of the parent node (`""` stays `""`). */
export function parentPointer(pointer: string): string {
  return pointer.slice(0, Math.max(0, pointer.lastIndexOf("/")));
}

type Frame = { kind: "seq"; pointer: string; index: number } | { kind: "map"; pointer: string; key: string | null; keyAt: number };

/** The position map of the first document in `events` (built lazily). `events` may be a function giving
 * them (parsing `source` again): a map kept for each of 10,000 valid files, almost never read, then holds
 * only its text instead of every parser event (60 MB for 10,000 app specs). `plains` (from yaml-simple.ts) answers
 * plainText for the numbers it lists without building the map. */
export function buildPositionMap(source: string, events: Event[] | (() => Event[]), plains?: ReadonlyMap<string, string>): PositionMap {
  return new PositionMap(source, events, plains);
}

/** Walks the events of the first document; complex (non-scalar) keys get no entry. */
function buildEntries(source: string, events: Event[]): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const stack: Frame[] = [];
  let skipDepth = 0; // > 0 while inside a complex key
  for (const ev of events) {
    if (ev.type === EVENT_ID.DOCUMENT) {
      if (entries.size > 0) break;
      continue;
    }
    if (skipDepth > 0) {
      if (ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE) skipDepth++;
      else if (ev.type === EVENT_ID.POP) skipDepth--;
      if (skipDepth === 0) afterNode(stack);
      continue;
    }
    if (ev.type === EVENT_ID.POP) {
      stack.pop();
      afterNode(stack);
      continue;
    }
    const top = stack[stack.length - 1];
    if (top?.kind === "map" && top.key === null) {
      if (ev.type === EVENT_ID.SCALAR) {
        top.key = getScalarValue(source, ev);
        top.keyAt = startOf(ev);
      } else {
        top.key = "\u0000complex";
        if (ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE) skipDepth = 1;
      }
      continue;
    }
    const pointer = childPointer(top);
    const entry = entryFor(source, ev, top);
    if (entry) entries.set(pointer, entry);
    if (ev.type === EVENT_ID.MAPPING) stack.push({ kind: "map", pointer, key: null, keyAt: -1 });
    else if (ev.type === EVENT_ID.SEQUENCE) stack.push({ kind: "seq", pointer, index: 0 });
    else afterNode(stack);
  }
  return entries;
}

function childPointer(top: Frame | undefined): string {
  if (!top) return "";
  if (top.kind === "seq") return `${top.pointer}/${top.index}`;
  return `${top.pointer}/${escapePointer(top.key ?? "")}`;
}

/** Advances the enclosing collection past the node that just ended. */
function afterNode(stack: Frame[]): void {
  const top = stack[stack.length - 1];
  if (!top) return;
  if (top.kind === "seq") top.index++;
  else top.key = null;
}

function entryFor(source: string, ev: Event, top: Frame | undefined): Entry | null {
  const keyAt = top?.kind === "map" ? top.keyAt : undefined;
  const key = keyAt !== undefined && keyAt >= 0 ? keyAt : undefined;
  let value: number;
  let plain: string | undefined;
  if (ev.type === EVENT_ID.SCALAR) {
    value = startOf(ev);
    if (ev.style === SCALAR_STYLE.PLAIN && ev.valueStart >= 0 && ev.tagStart < 0) plain = source.slice(ev.valueStart, ev.valueEnd);
  } else if (ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE) {
    value = firstOf(ev.anchorStart, ev.tagStart, ev.start);
  } else if (ev.type === EVENT_ID.ALIAS) {
    value = ev.anchorStart - 1;
  } else {
    return null;
  }
  if (value < 0) value = key ?? 0;
  return { key, value, plain };
}

/** Where a scalar starts in the source: its anchor, tag, or opening quote. */
function startOf(ev: ScalarEvent): number {
  const quoted = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
  const value = ev.valueStart >= 0 && quoted ? ev.valueStart - 1 : ev.valueStart;
  return firstOf(ev.anchorStart >= 0 ? ev.anchorStart - 1 : -1, ev.tagStart, value);
}

function firstOf(...offsets: number[]): number {
  const present = offsets.filter((o) => o >= 0);
  return present.length === 0 ? -1 : Math.min(...present);
}
