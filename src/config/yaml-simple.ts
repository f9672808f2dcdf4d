// A fast path for the YAML people write in config repos: block mappings and sequences of one-line scalars, in
// printable ASCII. It builds the same value js-yaml builds (the same schema resolves every plain scalar, and its
// own mapping and sequence tags build the containers), and gives up (undefined) on anything else: then js-yaml
// parses the file, and decides what it means or which error it is. Why: js-yaml parses into events first and
// constructs from them; for 10,000 small app files that was a fifth of a whole `amphi plan`.
//
// Handled: `key: value`, `key:` followed by a more indented block (or by a sequence at the key's indentation),
// `- value`, `- key: value` (a mapping inside a sequence entry), plain scalars, single- and double-quoted
// scalars without escapes, one-line flow collections of those (`[a, b]`, `{k: v}`, `[]`), comments, blank lines.
// Everything else gives up: tabs, CR, non-ASCII or control characters, document markers and directives, anchors,
// aliases, tags, block scalars, multi-line scalars, quoted or complex keys, merge keys, duplicate keys, a value
// on the line after `-`, and any line that does not fit where it stands.
import type { Schema } from "js-yaml";
import { escapePointer } from "./positions.js";

/** Plain-scalar resolution and containers, from the schema js-yaml constructs with. */
interface Tags {
  resolve: (source: string) => { value: unknown; tag: { tagName: string } };
  map: { create: () => unknown; addPair: (container: unknown, key: unknown, value: unknown) => string; has: (container: unknown, key: unknown) => boolean };
  seq: { create: () => unknown; addItem: (container: unknown, item: unknown, index: number) => unknown };
}

/** The implicit plain-scalar tags a value may resolve to here; any other (a merge key `<<`) gives up. */
const SCALAR_TAGS = new Set(["str", "null", "bool", "int", "float"].map((t) => `tag:yaml.org,2002:${t}`));
/** Keys written as plain words (labels, annotations, field names); any other key gives up. */
const KEY = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
/** A plain word inside a flow collection (what may follow is checked by the caller). */
const FLOW_WORD = /^[A-Za-z0-9_./@+=~-][A-Za-z0-9_./@+=~:-]*/;
/** A plain scalar's first character must not be an indicator; `-` may start one when a non-space follows. */
const PLAIN_FIRST = /^(?:[^-?:,[\]{}#&*!|>'"%@`\s]|-[^\s])/;
/** Anything outside printable ASCII and line feed. */
const UNUSUAL = /[^\x20-\x7e\n]/;
const MAX_DEPTH = 50;

class GiveUp extends Error {}

interface Line {
  indent: number;
  text: string;
}

/** The schema's tags this parser builds with, or null when this js-yaml does not expose them (always give up). */
export function simpleTags(schema: Schema): Tags | null {
  const s = schema as unknown as {
    resolveImplicitScalarTag?: Tags["resolve"];
    lookupMappingTag?: (name: string) => Tags["map"] | undefined;
    lookupSequenceTag?: (name: string) => Tags["seq"] | undefined;
  };
  if (typeof s.resolveImplicitScalarTag !== "function" || typeof s.lookupMappingTag !== "function" || typeof s.lookupSequenceTag !== "function") return null;
  const map = s.lookupMappingTag("tag:yaml.org,2002:map");
  const seq = s.lookupSequenceTag("tag:yaml.org,2002:seq");
  if (!map || !seq) return null;
  return { resolve: (source) => s.resolveImplicitScalarTag!.call(schema, source), map, seq };
}

/** The document of `text` when it is in the simple form described above, else undefined (parse it with js-yaml).
 * With `plains`, each value written as a plain scalar that reads as a number is added to it: its JSON pointer →
 * its text as written (`1.10`), what the position map would say (a field kept as written needs no second parse). */
export function parseSimpleYaml(text: string, tags: Tags | null, plains?: Map<string, string>): unknown {
  if (tags === null || UNUSUAL.test(text)) return undefined;
  const lines: Line[] = [];
  for (const raw of text.split("\n")) {
    let indent = 0;
    while (raw.charCodeAt(indent) === 0x20) indent++;
    if (indent === raw.length || raw.charCodeAt(indent) === 0x23 /* # */) continue;
    if (indent === 0 && (raw.startsWith("---") || raw.startsWith("...") || raw.startsWith("%"))) return undefined;
    lines.push({ indent, text: raw.slice(indent) });
  }
  if (lines.length === 0) return undefined;
  try {
    const p = new Parser(lines, tags);
    const doc = p.block(lines[0]!.indent, 0);
    if (p.at !== lines.length) return undefined;
    if (plains) for (const [pointer, text] of p.plains) plains.set(pointer, text);
    return doc;
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
}

class Parser {
  /** The next line to read. */
  at = 0;
  /** Pointer → text of the plain scalar values that read as numbers. */
  readonly plains = new Map<string, string>();
  /** The keys and indices from the document to the node being read. */
  private readonly path: string[] = [];
  constructor(
    private readonly lines: Line[],
    private readonly tags: Tags,
  ) {}

  /** The node whose first line is the next one, at `indent`. */
  block(indent: number, depth: number): unknown {
    if (depth > MAX_DEPTH) throw new GiveUp();
    const line = this.lines[this.at]!;
    if (line.indent !== indent) throw new GiveUp();
    return isEntry(line.text) ? this.sequence(indent, depth) : this.mapping(indent, depth);
  }

  private mapping(indent: number, depth: number): unknown {
    const { map } = this.tags;
    const out = map.create();
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent) break;
      if (line.indent > indent || isEntry(line.text)) throw new GiveUp();
      const colon = keyEnd(line.text);
      const keyText = line.text.slice(0, colon);
      if (!KEY.test(keyText)) throw new GiveUp();
      const key = this.scalar(keyText);
      if (map.has(out, key)) throw new GiveUp(); // js-yaml reports duplicates
      const rest = line.text.slice(colon + 1);
      this.at++;
      let value: unknown;
      this.path.push(String(key));
      if (isEmpty(rest)) {
        const next = this.lines[this.at];
        if (next !== undefined && next.indent > indent) value = this.block(next.indent, depth + 1);
        else if (next !== undefined && next.indent === indent && isEntry(next.text)) value = this.sequence(indent, depth + 1);
        else value = this.scalar("");
      } else {
        if (rest.charCodeAt(0) !== 0x20) throw new GiveUp();
        value = this.inline(rest.trimStart());
      }
      this.path.pop();
      if (map.addPair(out, key, value) !== "") throw new GiveUp();
    }
    return out;
  }

  private sequence(indent: number, depth: number): unknown {
    const { seq } = this.tags;
    const out = seq.create();
    let index = 0;
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent !== indent || !isEntry(line.text)) {
        if (line.indent > indent) throw new GiveUp();
        break;
      }
      let spaces = 1;
      while (line.text.charCodeAt(spaces) === 0x20) spaces++;
      const content = line.text.slice(spaces);
      if (isEmpty(content) || isEntry(content)) throw new GiveUp(); // the value on the next line; `- - x`
      let item: unknown;
      this.path.push(String(index));
      if (hasKey(content)) {
        // `- key: value`: a mapping whose first line starts at the content's column.
        this.lines[this.at] = { indent: indent + spaces, text: content };
        item = this.mapping(indent + spaces, depth + 1);
      } else {
        this.at++;
        item = this.inline(content);
      }
      this.path.pop();
      seq.addItem(out, item, index++);
    }
    return out;
  }

  /** A value written on the key's or the dash's line (comments and trailing spaces included). */
  private inline(text: string): unknown {
    const c = text.charCodeAt(0);
    if (c === 0x22 /* " */ || c === 0x27 /* ' */) {
      const { value, end } = quotedAt(text, 0, c);
      if (!isEmpty(text.slice(end))) throw new GiveUp();
      return value;
    }
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) return this.flow(text);
    const hash = text.indexOf(" #");
    const plain = (hash < 0 ? text : text.slice(0, hash)).trimEnd();
    if (!PLAIN_FIRST.test(plain) || plain.includes(": ") || plain.endsWith(":")) throw new GiveUp();
    return this.value(plain);
  }

  /** A flow collection on one line (`[a, b]`, `{k: v, q: "x"}`, nested), then nothing or a comment. */
  private flow(text: string): unknown {
    const f = { text, at: 0 };
    const value = this.flowNode(f, 0);
    if (!isEmpty(text.slice(f.at))) throw new GiveUp();
    return value;
  }

  private flowNode(f: { text: string; at: number }, depth: number): unknown {
    if (depth > MAX_DEPTH) throw new GiveUp();
    skipSpaces(f);
    const c = f.text.charCodeAt(f.at);
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      const isMap = c === 0x7b;
      const close = isMap ? 0x7d : 0x5d;
      const out = isMap ? this.tags.map.create() : this.tags.seq.create();
      f.at++;
      skipSpaces(f);
      if (f.text.charCodeAt(f.at) === close) {
        f.at++;
        return out;
      }
      for (let index = 0; ; index++) {
        if (isMap) {
          skipSpaces(f);
          const quotedKey = f.text.charCodeAt(f.at) === 0x22 || f.text.charCodeAt(f.at) === 0x27;
          const key = this.flowScalar(f);
          if (!quotedKey && typeof key === "string" && !KEY.test(key)) throw new GiveUp();
          if (f.text.charCodeAt(f.at) !== 0x3a /* : */) throw new GiveUp();
          f.at++;
          // After a plain key the colon needs a space (`{a:b}` is one scalar); after a quoted one it does not.
          if (!quotedKey && f.text.charCodeAt(f.at) !== 0x20) throw new GiveUp();
          this.path.push(String(key));
          const value = this.flowNode(f, depth + 1);
          this.path.pop();
          if (this.tags.map.has(out, key)) throw new GiveUp();
          if (this.tags.map.addPair(out, key, value) !== "") throw new GiveUp();
        } else {
          this.path.push(String(index));
          const item = this.flowNode(f, depth + 1);
          this.path.pop();
          this.tags.seq.addItem(out, item, index);
        }
        skipSpaces(f);
        const next = f.text.charCodeAt(f.at++);
        if (next === close) return out;
        if (next !== 0x2c /* , */) throw new GiveUp();
        skipSpaces(f);
        if (f.text.charCodeAt(f.at) === close) throw new GiveUp(); // a trailing comma
      }
    }
    return this.flowScalar(f, true);
  }

  /** A quoted scalar or a plain word inside a flow collection (a key, or with `isValue` a value). */
  private flowScalar(f: { text: string; at: number }, isValue = false): unknown {
    skipSpaces(f);
    const c = f.text.charCodeAt(f.at);
    if (c === 0x22 || c === 0x27) {
      const { value, end } = quotedAt(f.text, f.at, c);
      f.at = end;
      return value;
    }
    const m = FLOW_WORD.exec(f.text.slice(f.at));
    if (!m) throw new GiveUp();
    let word = m[0];
    // A colon ends the word where a space follows it (`k: v`); elsewhere it is part of it (`host:18000`).
    const sep = word.search(/:(?= |$)/);
    if (sep >= 0 && f.text.charCodeAt(f.at + sep + 1) === 0x20) word = word.slice(0, sep);
    else if (word.endsWith(":")) throw new GiveUp();
    if (word === "" || word === "-") throw new GiveUp();
    f.at += word.length;
    return isValue ? this.value(word) : this.scalar(word);
  }

  /** A plain scalar written as a value: resolved, and recorded as written when it reads as a number. */
  private value(source: string): unknown {
    const value = this.scalar(source);
    if (typeof value === "number") this.plains.set(this.path.map((s) => "/" + escapePointer(s)).join(""), source);
    return value;
  }

  /** A plain scalar's value as the schema resolves it. */
  private scalar(source: string): unknown {
    const { value, tag } = this.tags.resolve(source);
    if (!SCALAR_TAGS.has(tag.tagName)) throw new GiveUp();
    return value;
  }
}

/** A single- or double-quoted scalar (no escapes, one line) starting at `start`: its value and where it ends. */
function quotedAt(text: string, start: number, quote: number): { value: string; end: number } {
  const q = quote === 0x22 ? '"' : "'";
  let value = "";
  let i = start + 1;
  for (;;) {
    const end = text.indexOf(q, i);
    if (end < 0) throw new GiveUp(); // continues on the next line
    value += text.slice(i, end);
    if (quote === 0x27 && text.charCodeAt(end + 1) === 0x27) {
      value += "'";
      i = end + 2;
      continue;
    }
    if (quote === 0x22 && value.includes("\\")) throw new GiveUp(); // escapes
    return { value, end: end + 1 };
  }
}

function skipSpaces(f: { text: string; at: number }): void {
  while (f.text.charCodeAt(f.at) === 0x20) f.at++;
}

/** Whether a line is a sequence entry (`- x`, or a lone `-`). */
function isEntry(text: string): boolean {
  return text.charCodeAt(0) === 0x2d && (text.length === 1 || text.charCodeAt(1) === 0x20);
}

/** Nothing, or spaces, or spaces and a comment (a `#` right after a value is not one). */
function isEmpty(text: string): boolean {
  const t = text.trimStart();
  return t === "" || (t.charCodeAt(0) === 0x23 && t.length < text.length);
}

/** Where the key of a `key: value` or `key:` line ends (the colon), or give up. */
function keyEnd(text: string): number {
  const colon = text.search(/:(?: |$)/);
  if (colon <= 0) throw new GiveUp();
  return colon;
}

/** Whether the text starts a mapping entry with a plain-word key. */
function hasKey(text: string): boolean {
  const colon = text.search(/:(?: |$)/);
  return colon > 0 && KEY.test(text.slice(0, colon));
}
