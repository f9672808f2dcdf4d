// Building located problems: one helper per file turns a JSON pointer into `file:line:col /pointer`.
import type { Problem } from "../model/index.js";
import type { PositionMap } from "./positions.js";

/** Where in a node a problem points: its key (unknown keys), its value (wrong values), or the node
 * as a whole, i.e. its key when it has one, else its first line (missing required properties). */
export type Anchor = "key" | "value" | "node";

/** Options of a located problem. */
export interface ProblemOptions {
  hint?: string;
  severity?: Problem["severity"];
  at?: Anchor;
}

/** Makes problems located in one parsed file. */
export class FileLocator {
  constructor(
    readonly file: string,
    readonly positions: PositionMap,
  ) {}

  /** A problem at `pointer`; by default at the value, an error. */
  problem(pointer: string, message: string, opts: ProblemOptions = {}): Problem {
    const at = opts.at ?? "value";
    const pos = this.positions.at(pointer, at === "value" ? "value" : "key");
    return withHint({ file: this.file, line: pos.line, column: pos.column, pointer, message, severity: opts.severity ?? "error" }, opts.hint);
  }

  /** A warning at `pointer`. */
  warning(pointer: string, message: string, opts: Omit<ProblemOptions, "severity"> = {}): Problem {
    return this.problem(pointer, message, { ...opts, severity: "warning" });
  }
}

/** A problem about a file as a whole (missing, misnamed, empty): line and column 0. */
export function fileProblem(file: string, message: string, opts: Omit<ProblemOptions, "at"> = {}): Problem {
  return withHint({ file, line: 0, column: 0, pointer: "", message, severity: opts.severity ?? "error" }, opts.hint);
}

/** A problem at a known position that has no node (YAML syntax errors). */
export function positionedProblem(file: string, line: number, column: number, message: string, hint?: string): Problem {
  return withHint({ file, line, column, pointer: "", message, severity: "error" }, hint);
}

function withHint(p: Problem, hint: string | undefined): Problem {
  return hint ? { ...p, hint } : p;
}

/** Sorts problems by file, line, column, pointer and message, and drops exact duplicates. */
export function sortProblems(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const p of problems) {
    const id = `${p.file}\u0000${p.line}\u0000${p.column}\u0000${p.pointer}\u0000${p.message}\u0000${p.severity}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(p);
    }
  }
  return out.sort(
    (a, b) =>
      cmp(a.file, b.file) || a.line - b.line || a.column - b.column || cmp(a.pointer, b.pointer) || cmp(a.message, b.message),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Quotes a value for a message: strings in double quotes, others as JSON. */
export function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}
