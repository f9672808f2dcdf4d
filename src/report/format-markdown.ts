// The Markdown format of a drift report (an issue, a PR comment, a wiki page): a title, the summary line,
// then one table per app (host rules last) with a row per target.
import { codeSpan, escapeText } from "../plan/format-markdown.js";
import type { DriftItem, DriftReport, DriftRow } from "./model.js";
import { formatDriftSummary, sectionTitle } from "./format-text.js";

/** Rows with more items than this fold them into a `<details>` element. */
export const MARKDOWN_OPEN_ITEMS = 3;

/** Formats a drift report as GitHub-flavoured Markdown; every name and detail is escaped or in a code
 * span, so a table holds whatever the names contain. Ends with a newline. */
export function formatDriftMarkdown(report: DriftReport): string {
  const rev = report.revision ? ` Revision ${codeSpan(report.revision.slice(0, 12))},` : "";
  const parts = [`### amphi drift — ${escapeText(report.env)}`, `${escapeText(formatDriftSummary(report))}${rev} generated ${escapeText(report.generatedAt)}.`];
  const apps = [...new Set(report.rows.map(sectionTitle))];
  for (const app of apps) {
    const rows = report.rows.filter((r) => sectionTitle(r) === app);
    parts.push(`#### ${escapeText(app)}`, table(rows));
  }
  return `${parts.join("\n\n")}\n`;
}

function table(rows: DriftRow[]): string {
  const body = rows.map((r) => line([escapeText(r.target), r.runtime, r.status, `${r.health} (${escapeText(r.healthDetail)})`, itemsCell(r.items)]));
  return [line(["target", "runtime", "status", "health", "drift"]), line(Array(5).fill("---")), ...body].join("\n");
}

function itemsCell(items: DriftItem[]): string {
  if (items.length === 0) return "-";
  const lines = items.map((i) => `${i.kind} ${codeSpan(i.object)} ${codeSpan(i.detail)}`).join("<br>");
  if (items.length <= MARKDOWN_OPEN_ITEMS) return lines;
  return `<details><summary>${items.length} items</summary>${lines}</details>`;
}

function line(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}
