// The Markdown format of a plan, for a pull-request comment: a title, the summary, one table per wave,
// unknown items in their own section.
import type { Plan, PlanStep, UnknownItem } from "../model/index.js";
import { formatField } from "./format-value.js";
import { formatSummary } from "./format-text.js";

/** Steps with more changed fields than this fold them into a `<details>` element. */
export const MARKDOWN_OPEN_FIELDS = 3;

/** Formats a plan as GitHub-flavoured Markdown. Values are shortened like in the text format; every
 * change sits in a code span, `|` is escaped so tables hold. Ends with a newline. */
export function formatPlanMarkdown(plan: Plan): string {
  const parts = [`### amphi plan — ${escapeText(plan.env)}`, summaryLine(plan)];
  if (plan.steps.length > 0 || plan.unknown.length > 0) {
    for (const wave of [...new Set(plan.steps.map((s) => s.wave))]) {
      parts.push(`#### Wave ${wave}`, stepTable(plan.steps.filter((s) => s.wave === wave)));
    }
    if (plan.unknown.length > 0) {
      parts.push("#### Unknown", "Not compared, so nothing is planned for them: their target could not be read.", unknownTable(plan.unknown));
    }
  }
  return `${parts.join("\n\n")}\n`;
}

function summaryLine(plan: Plan): string {
  const rev = plan.revision ? ` Revision ${codeSpan(plan.revision.slice(0, 12))}.` : "";
  return `${escapeText(formatSummary(plan))}${rev}`;
}

function stepTable(steps: PlanStep[]): string {
  const rows = steps.map((s) =>
    row([s.runtime, escapeText(s.target), escapeText(s.app ?? "-"), s.op, codeSpan(s.object), changesCell(s)]),
  );
  return [row(["runtime", "target", "app", "action", "object", "changes"]), row(Array(6).fill("---")), ...rows].join("\n");
}

function unknownTable(items: UnknownItem[]): string {
  const rows = items.map((u) => row([u.runtime, escapeText(u.target), escapeText(u.app ?? "-"), codeSpan(u.key), escapeText(u.reason)]));
  return [row(["runtime", "target", "app", "key", "reason"]), row(Array(5).fill("---")), ...rows].join("\n");
}

/** Field changes as code spans, one per line of the cell; long lists folded into `<details>`. */
function changesCell(step: PlanStep): string {
  const lines = step.fields.map((f) => codeSpan(formatField(f))).join("<br>");
  if (step.fields.length <= MARKDOWN_OPEN_FIELDS) return lines;
  return `<details><summary>${step.fields.length} changes</summary>${lines}</details>`;
}

function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

/** A code span that holds any text: the fence is longer than any backtick run inside; `|` is escaped
 * (GitHub tables split cells on it even inside code spans). */
export function codeSpan(text: string): string {
  const flat = text.replace(/\r?\n/g, " ");
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  return `${fence}${pad}${flat.replace(/\|/g, "\\|")}${pad}${fence}`;
}

/** Plain text safe in a table cell: Markdown punctuation and `<` `>` `|` backslash-escaped, newlines flattened. */
export function escapeText(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/[\\`*_[\]<>|#~]/g, (c) => `\\${c}`);
}
