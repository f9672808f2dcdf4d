// argv → one POSIX sh command line. SSH carries a single string that the login shell parses, so every
// element is quoted: no value (a path with spaces, a `$`, a `;`, a newline) is ever interpreted.

/** Characters that mean nothing to sh; words made only of these stay bare so messages read well. */
const PLAIN = /^[A-Za-z0-9_\/.,:@%+-]+$/;

/** Words sh treats specially as the first word of a command: always quoted there. */
const RESERVED = new Set(["if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in", "function", "select", "time"]);

/** One argument quoted for sh: bare when plain, else in single quotes with each `'` written `'\''`. */
export function shellQuote(arg: string, first = false): string {
  if (PLAIN.test(arg) && !(first && RESERVED.has(arg))) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command line for an argv vector: every element quoted, joined by spaces. */
export function commandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error("empty argv");
  return argv.map((a, i) => shellQuote(a, i === 0)).join(" ");
}

/** The start of a command line for messages: at most 60 characters, newlines shown as `\n`. */
export function commandSummary(cmd: string): string {
  const flat = cmd.replace(/\n/g, "\\n");
  return flat.length > 60 ? `${flat.slice(0, 60)}…` : flat;
}
