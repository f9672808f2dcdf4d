// A JSON document read chunk by chunk, with one array field of its top-level object handed out element by
// element. In: a function reading the document's next bytes, the name of that field. Out: the document without that field's
// elements (it holds `[]` there) and a callback per element, in order. Pure apart from pulling chunks.
// Why: a 10,000-app actual state is ~100–180 MB of JSON; parsed whole, the text, its bytes and every parsed
// resource are alive at once (well over the plan's memory target), and each element parsed alone can be
// dropped or shared as soon as it is checked.
//
// It only finds where values begin and end (strings, nesting, commas); every piece it cuts is then parsed by
// JSON.parse, or, for an element the caller guessed, compared byte by byte with the guess's exact JSON text
// (JsonMatcher), so what it accepts is valid JSON. Whatever it does not expect (a syntax error, an element that
// is not an object, the field twice) makes it give up with `null`: the caller parses the whole text instead,
// which yields the same value or the usual error message.

/** Reads the next bytes into `into` from `offset` on (at most to its end); resolves to how many, 0 at the end. */
export type Fill = (into: Buffer, offset: number) => Promise<number>;

const [SPACE, TAB, LF, CR] = [0x20, 0x09, 0x0a, 0x0d];
const [QUOTE, BACKSLASH, COMMA, COLON] = [0x22, 0x5c, 0x2c, 0x3a];
const [OPEN_OBJ, CLOSE_OBJ, OPEN_ARR, CLOSE_ARR] = [0x7b, 0x7d, 0x5b, 0x5d];

class GiveUp extends Error {}

/** What a method reading only the input held says when it needs more. */
const NEED_MORE = -2;

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
      const c = this.peekHeld();
      if (c !== NEED_MORE) return c;
      if (!(await this.more(this.pos))) return -1;
    }
  }

  /** The byte at `pos` after JSON whitespace when the input held has one, else NEED_MORE (no promise made: most
   * bytes a reader looks at are already held). */
  peekHeld(): number {
    const { buf, len } = this;
    while (this.pos < len) {
      const c = buf[this.pos]!;
      if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return c;
      if (this.wsEnd !== this.pos) this.lineSpaces = -1; // a new run of whitespace
      this.lineSpaces = c === LF ? 0 : c === SPACE && this.lineSpaces >= 0 ? this.lineSpaces + 1 : -1;
      this.wsEnd = ++this.pos;
    }
    return NEED_MORE;
  }

  /** Where the last run of whitespace skipped ended, and how many spaces it had after its last line feed (-1:
   * none, or not only spaces). */
  private wsEnd = -1;
  private lineSpaces = -1;

  /** The column of `pos` when whitespace ending in a line feed and spaces only comes right before it (else -1):
   * the indentation of a pretty-printed element starting there. */
  column(): number {
    return this.wsEnd === this.pos ? this.lineSpaces : -1;
  }

  async expect(byte: number): Promise<void> {
    if ((await this.peek()) !== byte) throw new GiveUp();
    this.pos++;
  }

  /** Whether the input at `pos` is `value`'s text as JSON.stringify writes it, compact (`column` -1) or indented by
   * two spaces per level from `column` (refilling as needed); moves past it when it is. */
  async matches(matcher: JsonMatcher, value: unknown, column: number): Promise<boolean> {
    for (;;) {
      const held = this.matchesHeld(matcher, value, column);
      if (held !== NEED_MORE) return held;
      if (!(await this.more(this.pos))) return false;
    }
  }

  /** `matches` on the input held: true, false, or NEED_MORE when it ends before the comparison is decided. */
  matchesHeld(matcher: JsonMatcher, value: unknown, column: number): boolean | typeof NEED_MORE {
    const end = matcher.match(this.buf, this.len, this.pos, value, column);
    if (end === NEED_MORE) return NEED_MORE;
    if (end === MISMATCH) return false;
    this.pos = end;
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
 * asked once per element, in order, before that element is handed over. */
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
 * most tools write JSON), `element` gets the guessed value itself, with `matched` true: the text is compared with
 * the value as it is walked, never parsed, and no text is made for the comparison (a 10,000-app in-sync file is
 * 110 MB of such text). The guess must be plain JSON data (no
 * `undefined`, no class instances), so that parsing the text would give a value deeply equal to it. Once the
 * misses outnumber the hits by 16, guesses are no longer tried: a file written another way costs no more than
 * 16 failed comparisons (each stops at the first byte that differs), and one that drifted a lot no more than the
 * hits saved. */
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

/** The elements of the array at `pos`, each an object (anything else: give up). */
async function elements(r: Reader, element: (value: unknown, index: number, matched: boolean) => void, guesser: Guesser | null): Promise<void> {
  await r.expect(OPEN_ARR);
  if ((await r.peek()) === CLOSE_ARR) {
    r.pos++;
    return;
  }
  // Each step tries the input held first and awaits only when it needs more: a promise per element and step
  // was a tenth of an in-sync plan's allocations.
  for (let i = 0; ; i++) {
    let open = r.peekHeld();
    if (open === NEED_MORE) open = await r.peek();
    if (open !== OPEN_OBJ) throw new GiveUp();
    // Whole JSON values of the guess's exact text end where they end: what follows is checked as ever.
    const guessed = guesser?.next(i);
    let hit = false;
    if (guessed !== undefined) {
      const column = r.column();
      const held = r.matchesHeld(guesser!.matcher, guessed, column);
      hit = held === NEED_MORE ? await r.matches(guesser!.matcher, guessed, column) : held;
      guesser!.tally(hit);
    }
    element(hit ? guessed : JSON.parse(await r.value()), i, hit);
    let c = r.peekHeld();
    if (c === NEED_MORE) c = await r.peek();
    r.pos++;
    if (c === CLOSE_ARR) return;
    if (c !== COMMA) throw new GiveUp();
  }
}

/** Tries the guesses while they pay: once the misses outnumber the hits by 16, no element is guessed any more. */
class Guesser {
  private misses = 0;
  private hits = 0;
  readonly matcher = new JsonMatcher();
  constructor(private readonly guess: Guess) {}

  /** The value guessed for element `index` (an object), or undefined: none, or guessing stopped. */
  next(index: number): unknown {
    if (this.misses - this.hits >= 16) return undefined;
    const value = this.guess(index);
    return value !== null && typeof value === "object" ? value : undefined;
  }

  tally(hit: boolean): void {
    if (hit) this.hits++;
    else this.misses++;
  }
}

const MISMATCH = -1;
/** Thrown inside JsonMatcher when the input ends before the comparison is decided (match then says NEED_MORE). */
const SHORT_INPUT = Symbol("short input");

/** Compares input bytes with a value's JSON text as JSON.stringify writes it (compact, or with an indentation of
 * two spaces per level), byte by byte as it walks the value: no text or bytes are made for the comparison (at
 * 10,000 apps an in-sync file is 110 MB of such text). What it accepts is exactly that text, or it says MISMATCH,
 * and the element is parsed: anything JSON.stringify would write otherwise or not at all (`toJSON`, `undefined`,
 * functions, symbols, bigints; in an array JSON.stringify writes them as null) is a mismatch, never a guess taken
 * for a value that differs from the text's. */
class JsonMatcher {
  private buf: Buffer = Buffer.alloc(0);
  private len = 0;
  private p = 0;

  /** The end of `value`'s text at `pos` in `buf[0, len)`, MISMATCH, or NEED_MORE when the input ends first. `column`:
   * where a pretty-printed value starts (its closing bracket's indentation); -1: compact. */
  match(buf: Buffer, len: number, pos: number, value: unknown, column: number): number {
    this.buf = buf;
    this.len = len;
    this.p = pos;
    try {
      return this.value(value, column) ? this.p : MISMATCH;
    } catch (e) {
      if (e === SHORT_INPUT) return NEED_MORE;
      throw e;
    }
  }

  private byte(): number {
    if (this.p >= this.len) throw SHORT_INPUT;
    return this.buf[this.p++]!;
  }

  private value(v: unknown, column: number): boolean {
    switch (typeof v) {
      case "string":
        return this.string(v);
      case "number":
        return this.ascii(Number.isFinite(v) ? String(v) : "null");
      case "boolean":
        return this.ascii(v ? "true" : "false");
      case "object":
        if (v === null) return this.ascii("null");
        if (Array.isArray(v)) return this.array(v, column);
        if (typeof (v as { toJSON?: unknown }).toJSON === "function") return false;
        return this.object(v as Record<string, unknown>, column);
      default:
        return false;
    }
  }

  private array(a: unknown[], column: number): boolean {
    if (this.byte() !== OPEN_ARR) return false;
    const inner = column < 0 ? -1 : column + 2;
    for (let i = 0; i < a.length; i++) {
      if (i > 0 && this.byte() !== COMMA) return false;
      if (inner >= 0 && !this.newline(inner)) return false;
      if (!this.value(a[i], inner)) return false;
    }
    if (a.length > 0 && column >= 0 && !this.newline(column)) return false;
    return this.byte() === CLOSE_ARR;
  }

  private object(o: Record<string, unknown>, column: number): boolean {
    // own members only, as JSON.stringify writes them: for-in (no array of keys made) sees no others in a plain object
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) return false;
    if (this.byte() !== OPEN_OBJ) return false;
    const inner = column < 0 ? -1 : column + 2;
    let written = 0;
    for (const key in o) {
      const v = o[key];
      // members JSON.stringify leaves out: no guess is taken for such a value
      if (v === undefined || typeof v === "function" || typeof v === "symbol") return false;
      if (written++ > 0 && this.byte() !== COMMA) return false;
      if (inner >= 0 && !this.newline(inner)) return false;
      if (!this.string(key) || this.byte() !== COLON) return false;
      if (inner >= 0 && this.byte() !== SPACE) return false;
      if (!this.value(v, inner)) return false;
    }
    if (written > 0 && column >= 0 && !this.newline(column)) return false;
    return this.byte() === CLOSE_OBJ;
  }

  /** A line feed and `spaces` spaces. */
  private newline(spaces: number): boolean {
    const { buf, len } = this;
    let p = this.p;
    if (p + 1 + spaces > len) throw SHORT_INPUT;
    if (buf[p++] !== LF) return false;
    for (let i = 0; i < spaces; i++) if (buf[p++] !== SPACE) return false;
    this.p = p;
    return true;
  }

  /** ASCII text as it is. */
  private ascii(text: string): boolean {
    for (let i = 0; i < text.length; i++) if (this.byte() !== text.charCodeAt(i)) return false;
    return true;
  }

  /** A string literal as JSON.stringify writes it: `"` and `\` escaped, control characters as \b \t \n \f \r or
   * \u00xx, lone surrogates as \udxxx, everything else as UTF-8. */
  private string(s: string): boolean {
    if (this.byte() !== QUOTE) return false;
    // Printable ASCII other than `"` and `\\` is itself: compared in a loop on locals (most of a file's bytes);
    // the first other character goes on below.
    const { buf, len } = this;
    let p = this.p;
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c >= 0x80 || c === QUOTE || c === BACKSLASH) break;
      if (p >= len) throw SHORT_INPUT;
      if (buf[p++] !== c) return false;
    }
    this.p = p;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x80) {
        if (c === QUOTE || c === BACKSLASH) {
          if (this.byte() !== BACKSLASH) return false;
        }
        if (this.byte() !== c) return false;
      } else if (c < 0x20) {
        const short = SHORT_ESCAPES[c];
        if (this.byte() !== BACKSLASH) return false;
        if (short !== undefined ? this.byte() !== short : !this.ascii(`u${c.toString(16).padStart(4, "0")}`)) return false;
      } else if (c < 0x800) {
        if (this.byte() !== (0xc0 | (c >> 6)) || this.byte() !== (0x80 | (c & 0x3f))) return false;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const low = c <= 0xdbff && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (low >= 0xdc00 && low <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
          i++;
          if (this.byte() !== (0xf0 | (cp >> 18)) || this.byte() !== (0x80 | ((cp >> 12) & 0x3f)) || this.byte() !== (0x80 | ((cp >> 6) & 0x3f)) || this.byte() !== (0x80 | (cp & 0x3f))) return false;
        } else if (this.byte() !== BACKSLASH || !this.ascii(`u${c.toString(16)}`)) return false;
      } else if (this.byte() !== (0xe0 | (c >> 12)) || this.byte() !== (0x80 | ((c >> 6) & 0x3f)) || this.byte() !== (0x80 | (c & 0x3f))) return false;
    }
    return this.byte() === QUOTE;
  }
}

/** The characters below 0x20 JSON.stringify writes as a backslash and one letter, by code: that letter's code. */
const SHORT_ESCAPES: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };
