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
        this.pos++;
      }
      if (!(await this.more(this.pos))) return -1;
    }
  }

  async expect(byte: number): Promise<void> {
    if ((await this.peek()) !== byte) throw new GiveUp();
    this.pos++;
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

/** Reads a JSON document whose top level is an object (through `fill`, into a buffer of `bufferSize` bytes that
 * grows only for a longer value), passing each element of its array field `field` to `element` (parsed, with
 * its index) instead of keeping them. Returns the rest of the document (with
 * `field: []`), or null when the input is not what this reader handles (then nothing should be trusted:
 * parse the whole text instead; `element` may have been called for some elements). */
export async function readJsonStreaming(fill: Fill, field: string, element: (value: unknown, index: number) => void, bufferSize = 4 << 20): Promise<Record<string, unknown> | null> {
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
          await elements(r, element);
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
async function elements(r: Reader, element: (value: unknown, index: number) => void): Promise<void> {
  await r.expect(OPEN_ARR);
  if ((await r.peek()) === CLOSE_ARR) {
    r.pos++;
    return;
  }
  for (let i = 0; ; i++) {
    if ((await r.peek()) !== OPEN_OBJ) throw new GiveUp();
    element(JSON.parse(await r.value()), i);
    const c = await r.peek();
    r.pos++;
    if (c === CLOSE_ARR) return;
    if (c !== COMMA) throw new GiveUp();
  }
}
