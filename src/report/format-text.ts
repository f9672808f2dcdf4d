// The text format of a drift report (terminals, logs): one aligned line per app × target, its items
// indented under it, then the summary line. formatDriftSummary is shared by every format.
import type { DriftItem, DriftReport, DriftRow } from "./model.js";

const GAP = "  ";

/** The summary line: `Drift in prod: 4 apps on 5 targets, 3 in sync, 5 drifted, 1 unknown; coverage 87.5%.`,
 * followed by what could not be seen when anything could not: ` Incomplete: 1 target not seen (legacy/vm-3).` */
export function formatDriftSummary(report: DriftReport): string {
  const s = report.summary;
  const line = `Drift in ${report.env}: ${plural(s.apps, "app")} on ${plural(s.targets, "target")}, ${s.inSync} in sync, ${s.drifted} drifted, ${s.unknown} unknown; coverage ${s.coverage}%.`;
  const incomplete = formatIncomplete(report);
  return incomplete ? `${line} ${incomplete}` : line;
}

/** `Incomplete: 2 targets not seen (eu1, legacy/vm-3).`, or null when every target was read. */
export function formatIncomplete(report: DriftReport): string | null {
  const targets = unseenTargets(report);
  return targets.length === 0 ? null : `Incomplete: ${plural(targets.length, "target")} not seen (${targets.join(", ")}).`;
}

/** Targets of rows that hold something that could not be read, sorted. */
export function unseenTargets(report: DriftReport): string[] {
  return [...new Set(report.rows.filter((r) => r.items.some((i) => i.kind === "unreachable")).map((r) => r.target))].sort();
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** One item on one line: `field       Deployment/shop/user  spec.replicas 2→3`. */
export function formatDriftItem(item: DriftItem): string {
  return [item.kind.padEnd(11), item.object, item.detail].join(GAP).replace(/\r?\n/g, " ");
}

/** The app of a row as printed: `(host)` for a host's own rules. */
export function rowApp(row: DriftRow): string {
  return row.app ?? "(host)";
}

/** The title of a row's section in Markdown and HTML: the app, or `host rules (capture)`. */
export function sectionTitle(row: DriftRow): string {
  return row.app ?? "host rules (capture)";
}

/** The whole report as text, ending with a newline. */
export function formatDriftText(report: DriftReport): string {
  const cols = report.rows.map((r) => [rowApp(r), r.runtime, r.target, r.status, `${r.health} (${r.healthDetail})`]);
  const widths = cols.reduce<number[]>((w, c) => c.map((v, i) => Math.max(w[i] ?? 0, v.length)), []);
  const lines = [`amphi drift ${report.env}${report.revision ? ` at ${report.revision.slice(0, 12)}` : ""}, ${report.generatedAt}`, ""];
  report.rows.forEach((r, n) => {
    const c = cols[n]!;
    lines.push(c.map((v, i) => (i < c.length - 1 ? v.padEnd(widths[i] ?? 0) : v)).join(GAP));
    for (const item of r.items) lines.push(`    ${formatDriftItem(item)}`);
  });
  if (report.rows.length > 0) lines.push("");
  lines.push(formatDriftSummary(report));
  return `${lines.join("\n")}\n`;
}
