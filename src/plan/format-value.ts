// Short, one-line renderings of field values for the text and Markdown formats (JSON keeps full values):
// hashes cut to 8 characters, long strings elided in the middle, multi-line text summarized by line counts.
import type { FieldChange, Json } from "../model/index.js";
import { REDACTED } from "../diff/index.js";

/** Longest printed value; longer ones keep their head and tail (an image tag sits at the end). */
export const MAX_VALUE_LENGTH = 40;
const HASH = /[0-9a-f]{32,}/gi;

/** Formats one value on one line: `(none)` for a missing side, strings bare unless they need quotes
 * (empty, whitespace, `;`, `→`), other values as compact JSON; hex hashes become `5d3785d5…`. */
export function formatValue(value: Json | undefined): string {
  if (value === undefined) return "(none)";
  if (value === REDACTED) return REDACTED;
  const raw = typeof value === "string" && !/^$|[\s;→"]/.test(value) ? value : JSON.stringify(value);
  return elide(raw.replace(HASH, (h) => `${h.slice(0, 8)}…`));
}

/** Cuts a string longer than {@link MAX_VALUE_LENGTH} to head…tail. */
export function elide(text: string, max = MAX_VALUE_LENGTH): string {
  if (text.length <= max) return text;
  const tail = Math.floor((max - 1) / 2);
  return `${text.slice(0, max - 1 - tail)}…${text.slice(text.length - tail)}`;
}

/** Formats one field change: `version 2.3.0→2.4.0`, `fragment (3 lines changed: +2 -1)`,
 * `env[name=TOKEN].value (secret changed)`. */
export function formatField(f: FieldChange): string {
  if (f.from === REDACTED && f.to === REDACTED) return `${f.path} (secret changed)`;
  if (isMultiLine(f.from) || isMultiLine(f.to)) return `${f.path} (${lineSummary(f.from, f.to)})`;
  return `${f.path} ${formatValue(f.from)}→${formatValue(f.to)}`;
}

/** Formats a step's fields joined by `; `, at most `limit` of them, then `… N more`. */
export function formatFields(fields: readonly FieldChange[], limit = Infinity): string {
  const shown = fields.slice(0, limit).map(formatField);
  if (fields.length > limit) shown.push(`… ${fields.length - limit} more`);
  return shown.join("; ");
}

function isMultiLine(v: Json | undefined): boolean {
  return typeof v === "string" && v.includes("\n");
}

/** Counts lines added and removed between two texts (as multisets of lines: order changes are not counted). */
function lineSummary(from: Json | undefined, to: Json | undefined): string {
  const before = typeof from === "string" ? from.split("\n") : [];
  const after = typeof to === "string" ? to.split("\n") : [];
  const pool = new Map<string, number>();
  for (const line of before) pool.set(line, (pool.get(line) ?? 0) + 1);
  let added = 0;
  for (const line of after) {
    const n = pool.get(line) ?? 0;
    if (n > 0) pool.set(line, n - 1);
    else added++;
  }
  const removed = [...pool.values()].reduce((sum, n) => sum + n, 0);
  return `${added + removed} line${added + removed === 1 ? "" : "s"} changed: +${added} -${removed}`;
}
