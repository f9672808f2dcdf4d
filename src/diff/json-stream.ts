// A JSON document read chunk by chunk, with one array field of its top-level object handed out element by
// element. In: a function reading the document's next bytes, the name of that field. Out: the document without that field's
// elements (it holds `[]` there) and a callback per element, in order. Pure apart from pulling chunks.
// Why: a 10,000-app actual state is ~100–180 MB of JSON; parsed whole, the text, its bytes and every parsed
// resource are alive at once (well over the plan's memory target), and each element parsed alone can be
// dropped or shared as soon as it is checked.
//
// It only finds where values begin and end (strings, nesting, commas); every piece it cuts is then parsed by
// JSON.parse, so what it accepts is valid JSON. Whatever it does not expect (a syntax error, an element that
// is not an object, the field twice) makes it give up with `null`: the caller parses the whole text instead,
// which yields the same value or the usual error message.

/** Reads the next bytes into `into` from `offset` on (at most to its end); resolves to how many, 0 at the end. */
export type Fill = (into: Buffer, offset: number) => Promise<number>;

const [SPACE, TAB, LF, CR] = [0x20, 0x09, 0x0a, 0x0d];
const [QUOTE, BACKSLASH, COMMA, COLON] = [0x22, 0x5c, 0x2c, 0x3a];
const [OPEN_OBJ, CLOSE_OBJ, OPEN_ARR, CLOSE_ARR] = [0x7b, 0x7d, 0x5b, 0x5d];

class GiveUp extends Error {}

/** The input from `pos` on, in one buffer that is refilled in place (what is still needed moves to its front;
 * it doubles only for a value longer than half of it), so reading allocates nothing per chunk. */
class Reader {
  private buf: Buffer;
  /** Bytes of `buf` holding input. */
  private len = 0;
  pos = 0;
  private done = false;
  constructor(
    private readonly fill: Fill,
    size: number,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** The input held, `pos` and everything before it included. */
  get view(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** Reads more input, dropping the bytes before `keep` (positions shift by `keep`); false at the end. */
  async more(keep: number): Promise<boolean> {
    if (this.done) return false;
    const kept = this.len - keep;
    if (kept > this.buf.length / 2) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, keep, this.len);
      this.buf = bigger;
    } else this.buf.copyWithin(0, keep, this.len);
    this.len = kept;
    this.pos -= keep;
    this.wsEnd -= keep;
    const n = await this.fill(this.buf, this.len);
    this.len += n;
    this.done = n === 0;
    return n > 0;
  }

  /** The byte at `pos` after JSON whitespace, refilling as needed; -1 at the end of the input. */
  async peek(): Promise<number> {
    for (;;) {
      const { buf, len } = this;
      while (this.pos < len) {
        const c = buf[this.pos]!;
        if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return c;
        if (this.wsEnd !== this.pos) this.lineSpaces = -1; // a new run of whitespace
        this.lineSpaces = c === LF ? 0 : c === SPACE && this.lineSpaces >= 0 ? this.lineSpaces + 1 : -1;
        this.wsEnd = ++this.pos;
      }
      if (!(await this.more(this.pos))) return -1;
    }
  }

  /** Where the last run of whitespace skipped ended, and how many spaces it had after its last line feed (-1:
   * none, or not only spaces). */
  private wsEnd = -1;
  private lineSpaces = -1;

  /** The spaces between a line feed and `pos`, when whitespace ending in a line feed and spaces only comes right
   * before `pos` (else null): the indentation of a pretty-printed element starting there. */
  indentation(): string | null {
    return this.wsEnd === this.pos && this.lineSpaces >= 0 ? " ".repeat(this.lineSpaces) : null;
  }

  async expect(byte: number): Promise<void> {
    if ((await this.peek()) !== byte) throw new GiveUp();
    this.pos++;
  }

  /** Whether the input at `pos` starts with `bytes[start, end)` (refilling as needed); moves past them when it does. */
  async startsWith(bytes: Buffer, start: number, end: number): Promise<boolean> {
    const n = end - start;
    while (this.len - this.pos < n) if (!(await this.more(this.pos))) return false;
    if (bytes.compare(this.buf, this.pos, this.pos + n, start, end) !== 0) return false;
    this.pos += n;
    return true;
  }

  /** Skips one JSON value starting at `pos` (after whitespace) and returns its text. */
  async value(): Promise<string> {
    if ((await this.peek()) === -1) throw new GiveUp();
    let start = this.pos;
    for (;;) {
      const view = this.view;
      const end = valueEnd(view, start);
      if (end >= 0) {
        this.pos = end;
        return view.toString("utf8", start, end);
      }
      if (!(await this.more(start))) throw new GiveUp();
      start = 0; // what was kept now starts the buffer
    }
  }
}

/** The end (exclusive) of the JSON value that starts at `start`, or -1 when `buf` ends first. Scalars end at
 * the next delimiter; a scalar running to the very end of `buf` counts as cut off. */
function valueEnd(buf: Buffer, start: number): number {
  const first = buf[start]!;
  if (first === QUOTE) return stringEnd(buf, start);
  if (first !== OPEN_OBJ && first !== OPEN_ARR) {
    for (let i = start; i < buf.length; i++) {
      const c = buf[i]!;
      if (c === COMMA || c === CLOSE_OBJ || c === CLOSE_ARR || c === SPACE || c === LF || c === CR || c === TAB) return i;
    }
    return -1;
  }
  let depth = 0;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === QUOTE) {
      const end = stringEnd(buf, i);
      if (end < 0) return -1;
      i = end - 1;
    } else if (c === OPEN_OBJ || c === OPEN_ARR) depth++;
    else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/** The end (exclusive) of the string whose opening quote is at `start`, or -1 when `buf` ends first. */
function stringEnd(buf: Buffer, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, i);
    if (q < 0) return -1;
    let backslashes = 0;
    while (buf[q - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** What the caller expects the element at an index to be (plain JSON data), or null when it has no guess. It is
 * asked for the next element and, after a hit, for up to 15 after it, before any of them is handed over. */
export type Guess = (index: number) => unknown;

/** Reads a JSON document whose top level is an object (through `fill`, into a buffer of `bufferSize` bytes that
 * grows only for a value longer than half of it; 1 MiB by default: every fresh page of it costs a fault, and
 * reads of 1 MiB are no slower per byte than of 4 MiB), passing each element of its array field `field` to `element` (parsed, with
 * its index) instead of keeping them. Returns the rest of the document (with
 * `field: []`), or null when the input is not what this reader handles (then nothing should be trusted:
 * parse the whole text instead; `element` may have been called for some elements).
 *
 * `guess` names the value expected at an index: when the element's text is that value as JSON.stringify writes
 * it, compact or indented by two spaces per level at the element's own column (how `render --as-actual` and
 * most tools write JSON), `element` gets the guessed value itself, with `matched` true, and the text is neither
 * scanned nor parsed (a 10,000-app in-sync file is 110 MB of such text). The guess must be plain JSON data (no
 * `undefined`, no class instances), so that parsing the text would give a value deeply equal to it. Once the
 * misses outnumber the hits by 16, guesses are no longer tried: a file written another way costs no more than
 * the stringify of those 16, and one that drifted a lot no more than the hits saved. */
export async function readJsonStreaming(
  fill: Fill,
  field: string,
  element: (value: unknown, index: number, matched: boolean) => void,
  bufferSize = 1 << 20,
  guess?: Guess,
): Promise<Record<string, unknown> | null> {
  const r = new Reader(fill, bufferSize);
  try {
    const rest: string[] = [];
    let seen = false;
    await r.expect(OPEN_OBJ);
    if ((await r.peek()) === CLOSE_OBJ) r.pos++;
    else {
      for (;;) {
        const keyText = await r.value();
        const key: unknown = JSON.parse(keyText);
        await r.expect(COLON);
        if (key === field && (await r.peek()) === OPEN_ARR) {
          if (seen) throw new GiveUp();
          seen = true;
          await elements(r, element, guess ? new Guesser(guess) : null);
          rest.push(`${keyText}:[]`);
        } else rest.push(`${keyText}:${await r.value()}`);
        const c = await r.peek();
        r.pos++;
        if (c === CLOSE_OBJ) break;
        if (c !== COMMA) throw new GiveUp();
      }
    }
    if ((await r.peek()) !== -1) throw new GiveUp();
    return JSON.parse(`{${rest.join(",")}}`) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof GiveUp || e instanceof SyntaxError) return null;
    throw e;
  }
}

/** Elements guessed at once after a hit: one stringify, one encode and one compare for the whole run (its elements
 * with the separators JSON.stringify writes between them) instead of one of each per element. At 1,000 apps the
 * per-element calls were a third of reading an in-sync file. */
const RUN = 16;

/** The guessed values for the elements from some index on, and where their text lies in `bytes`. */
interface Guessed {
  values: unknown[];
  bytes: Buffer;
  start: number;
  end: number;
}

/** Tries the guesses while they pay: the expected text of the values guessed for the next elements, encoded into
 * one scratch buffer (no string or buffer per element is kept). After a hit it guesses runs of elements; a run
 * that misses is tried again one element at a time, so one drifted element costs one run. */
class Guesser {
  private misses = 0;
  private hits = 0;
  /** Whether the last guess hit: runs are guessed only then (a file written another way costs one stringify per
   * element until guessing stops, as before runs). */
  private lastHit = false;
  /** Elements of a run that missed, still to guess one at a time. */
  private alone = 0;
  private scratch = Buffer.allocUnsafe(1 << 16);
  /** Per nesting depth: the text JSON.stringify writes before and after a value nested that deep in arrays. */
  private readonly frames: { before: number; after: number }[] = [];
  constructor(private readonly guess: Guess) {}

  /** The guessed values for the elements from `index` on (one, or a run), and where their text as written at
   * `indent` (null: compact) lies in `bytes`; null when there is no guess. */
  next(index: number, indent: string | null): Guessed | null {
    if (this.misses - this.hits >= 16) return null;
    // Runs where the text between elements is what JSON.stringify writes: compact, or two spaces per level at
    // a column of 2k ≥ 2 spaces (an element at column 0 or an odd one is not inside a stringified array).
    const runs = indent === null || (indent.length > 0 && indent.length % 2 === 0);
    const want = this.lastHit && this.alone === 0 && runs ? RUN : 1;
    const values: unknown[] = [];
    for (let k = 0; k < want; k++) {
      const value = this.guess(index + k);
      if (value === null || typeof value !== "object") break;
      values.push(value);
    }
    if (values.length === 0) return null;
    let text: string;
    let frame = { before: 0, after: 0 };
    if (indent === null) {
      text = JSON.stringify(values);
      frame = { before: 1, after: 1 };
    } else if (runs) {
      // Indented by two spaces per level at a column of 2k spaces: the values' own text inside k arrays (the
      // innermost is the run itself), stringified in one native call (a per-line re-indent cost as much).
      const depth = indent.length / 2;
      frame = this.frame(depth);
      let nested: unknown = values;
      for (let i = 1; i < depth; i++) nested = [nested];
      text = JSON.stringify(nested, null, 2);
    } else text = JSON.stringify(values[0], null, 2).replaceAll("\n", `\n${indent}`);
    if (this.scratch.length < text.length * 3) this.scratch = Buffer.allocUnsafe(text.length * 3);
    const written = this.scratch.write(text, 0, "utf8");
    return { values, bytes: this.scratch, start: frame.before, end: written - frame.after };
  }

  /** The lengths (ASCII: bytes) of the text around a value nested `depth` arrays deep. */
  private frame(depth: number): { before: number; after: number } {
    let f = this.frames[depth];
    if (f === undefined) {
      let nested: unknown = 0;
      for (let i = 0; i < depth; i++) nested = [nested];
      const text = JSON.stringify(nested, null, 2);
      const at = text.indexOf("0");
      f = this.frames[depth] = { before: at, after: text.length - at - 1 };
    }
    return f;
  }

  /** Counts a guess of `count` elements that hit or missed. */
  tally(count: number, hit: boolean): void {
    if (count > 1 && !hit) {
      this.alone = count;
      return;
    }
    if (hit) this.hits += count;
    else this.misses++;
    this.lastHit = hit;
    this.alone = Math.max(0, this.alone - 1);
  }
}

/** The elements of the array at `pos`, each an object (anything else: give up). */
async function elements(r: Reader, element: (value: unknown, index: number, matched: boolean) => void, guesser: Guesser | null): Promise<void> {
  await r.expect(OPEN_ARR);
  if ((await r.peek()) === CLOSE_ARR) {
    r.pos++;
    return;
  }
  for (let i = 0; ; ) {
    if ((await r.peek()) !== OPEN_OBJ) throw new GiveUp();
    // Whole JSON values of the guess's exact bytes end where they end: what follows is checked as ever.
    // A run that misses is guessed again at once, one element long (the guesser knows it missed).
    const indent = r.indentation();
    let guessed: Guessed | null = null;
    let hit = false;
    while (guesser && !hit && (guessed = guesser.next(i, indent)) !== null) {
      hit = await r.startsWith(guessed.bytes, guessed.start, guessed.end);
      guesser.tally(guessed.values.length, hit);
      if (guessed.values.length === 1) break;
    }
    if (hit) for (const value of guessed!.values) element(value, i++, true);
    else element(JSON.parse(await r.value()), i++, false);
    const c = await r.peek();
    r.pos++;
    if (c === CLOSE_ARR) return;
    if (c !== COMMA) throw new GiveUp();
  }
}
