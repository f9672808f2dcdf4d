// iptables-restore text from structure: the one formatter of amphi's capture rules (the fragment render
// writes, and the restore input the capture task sends, cleanup lines included). In: IptablesRestore.
// Out: text that iptables-restore reads and that diff/iptables.ts parses back to the same structure.
import type { IptablesOp, IptablesRestore, IptablesTable } from "../../model/index.js";

/** The `iptables-restore` input for `doc`: comment lines, then per table `*NAME`, its chain declarations
 * (`:NAME POLICY [0:0]`), its lines, `COMMIT`; newline-terminated (empty when there is nothing). */
export function formatRestore(doc: IptablesRestore): string {
  const lines = [...doc.comments, ...doc.tables.flatMap(formatTable)];
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

function formatTable(t: IptablesTable): string[] {
  return [`*${t.name}`, ...t.chains.map((c) => `:${c.name} ${c.policy} [0:0]`), ...t.ops.map(formatOp), "COMMIT"];
}

/** One table line: `-A CHAIN ARGS…` (or -D/-N/-F/-X). */
export function formatOp(op: IptablesOp): string {
  return [op.op, op.chain, ...formatArgs(op.args)].join(" ");
}

/** A rule's tokens as iptables-save writes them: a comment's text always in double quotes (with `"` and
 * `\` escaped), any other token quoted only when it needs it (whitespace, quotes, empty). */
export function formatArgs(args: readonly string[]): string[] {
  return args.map((a, i) => (args[i - 1] === "--comment" || a === "" || /[\s"'\\]/.test(a) ? quote(a) : a));
}

function quote(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
