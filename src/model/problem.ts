// Problems found in input: located, collected, never thrown one at a time.

/** One problem in a config repo file: where, what, and a hint when one helps. */
export interface Problem {
  /** Repo-relative file path, e.g. `apps/user/spec.yaml`. */
  file: string;
  /** 1-based line and column; 0 when the problem concerns the file as a whole (e.g. missing). */
  line: number;
  column: number;
  /** JSON pointer into the document, `""` for the whole document. */
  pointer: string;
  message: string;
  hint?: string;
  severity: "error" | "warning";
}

/** Formats a problem as `file:line:col /pointer: message (hint)`. */
export function formatProblem(p: Problem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  const pointer = p.pointer === "" ? "" : ` ${p.pointer}`;
  const hint = p.hint ? `; ${p.hint}` : "";
  const level = p.severity === "warning" ? "warning: " : "";
  return `${where}${pointer}: ${level}${p.message}${hint}`;
}

/** Thrown by loading when the config has errors; carries every problem found (errors and warnings). */
export class ConfigError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    const errors = problems.filter((p) => p.severity === "error");
    super(`${errors.length} problem${errors.length === 1 ? "" : "s"} in config:\n` + errors.map(formatProblem).join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Thrown for bad input that is not a config-repo file: an actual-state file, a CLI argument. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}
