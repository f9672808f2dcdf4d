// The text format of a plan: one aligned line per step, unknown items, and a summary line.
// formatStep is the one-line rendering shared by logs, golden files and commit statuses.
import type { Plan, PlanStep, UnknownItem } from "../model/index.js";
import { RUNTIME_ORDER } from "../runtimes/index.js";
import { formatFields } from "./format-value.js";

/** Most field changes printed on a text line; the JSON format has all of them. */
export const TEXT_FIELD_LIMIT = 5;
const GAP = "  ";

/** The columns of a step: wave, runtime, target, app (`-` for none), op, object, then the changed fields. */
function stepColumns(step: PlanStep): string[] {
  return [`wave ${step.wave}`, step.runtime, step.target, step.app ?? "-", step.op, step.object, formatFields(step.fields, TEXT_FIELD_LIMIT)];
}

// Why the key: one target hides several objects of one app (a Deployment, its Service, its ConfigMap), and
// rows without it would read the same.
function unknownColumns(item: UnknownItem): string[] {
  return ["unknown", item.runtime, item.target, item.app ?? "-", "-", item.key, item.reason];
}

/** One step on one line, e.g. `wave 1  vm  legacy/vm-2  billing  update  billing  version 2.3.0→2.4.0`. */
export function formatStep(step: PlanStep): string {
  return stepColumns(step).join(GAP).trimEnd();
}

/** One unknown item on one line (no op; the key in the object column), e.g.
 * `unknown  vm  legacy/vm-3  billing  -  vm/legacy/vm-3/billing  host unreachable: timeout`. */
export function formatUnknown(item: UnknownItem): string {
  return unknownColumns(item).join(GAP).trimEnd();
}

/** The summary line: `Plan for prod: 3 to create, 1 to update, 0 to delete, 12 unchanged, 0 unknown.`,
 * or `No changes. prod is up to date (12 resources).` when there is nothing to do and nothing unknown. */
export function formatSummary(plan: Plan): string {
  const s = plan.summary;
  if (plan.steps.length === 0 && plan.unknown.length === 0) {
    return `No changes. ${plan.env} is up to date (${s.unchanged} resource${s.unchanged === 1 ? "" : "s"}).`;
  }
  return `Plan for ${plan.env}: ${s.create} to create, ${s.update} to update, ${s.delete} to delete, ${s.unchanged} unchanged, ${s.unknown} unknown.`;
}

/** Why a plan, apply or cycle is not complete (exit 3), naming the targets that could not be read:
 * `could not see every target: 13 resources unknown on eu1, legacy/vm-1 (reasons in the plan)`. */
export function formatUnseen(plan: Plan): string {
  const targets = [...new Set(plan.unknown.map((u) => u.target))].sort();
  const shown = targets.length > 6 ? [...targets.slice(0, 6), `… (${targets.length} in all)`] : targets;
  const n = plan.unknown.length;
  return `could not see every target: ${n} resource${n === 1 ? "" : "s"} unknown on ${shown.join(", ")}`;
}

/** The whole plan as text: aligned step lines, then unknown items, a blank line and the summary.
 * Ends with a newline. */
export function formatPlanText(plan: Plan): string {
  const rows = [...plan.steps.map(stepColumns), ...plan.unknown.map(unknownColumns)];
  if (rows.length === 0) return `${formatSummary(plan)}\n`;
  const widths = columnWidths(rows);
  const lines = rows.map((cols) =>
    cols
      .map((c, i) => (i < cols.length - 1 ? c.padEnd(widths[i] ?? 0) : c))
      .join(GAP)
      .trimEnd(),
  );
  return `${lines.join("\n")}\n\n${formatSummary(plan)}\n`;
}

/** Width of each column but the last of its row; runtime is as wide as the longest runtime name, so
 * plans line up the same way whatever runtimes they touch. */
function columnWidths(rows: string[][]): number[] {
  const widths: number[] = [0, Math.max(...RUNTIME_ORDER.map((r) => r.length))];
  for (const cols of rows) {
    cols.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  }
  return widths;
}
