// HTML pieces shared by the drift report file (format-html.ts) and `amphi serve`'s fleet page: the style sheet,
// the count tiles, the app × target matrix and the table of row details. Plain strings, every piece of text
// escaped; nothing needs a script. Why one table for the matrix, with fixed column widths and a sticky header:
// a fleet of 1,000 apps stays one table that scrolls, its columns do not jump from one refresh to the next.
import type { DriftItem, DriftReport, DriftRow, DriftSummary } from "./model.js";
import { appLabel, cellOf, type Matrix, type MatrixCell, type MatrixColumn } from "./matrix.js";

export { appLabel };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** The style sheet of the report and the page (inline: no external assets). */
export const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:#59636e;margin:0 0 12px}
.counts{display:flex;flex-wrap:wrap;gap:8px;list-style:none;padding:0;margin:0 0 8px}
.counts li{border:1px solid #d1d9e0;border-radius:6px;padding:6px 12px;min-width:72px;text-align:center}
.counts b{display:block;font-size:20px}
table{border-collapse:collapse}
th,td{border:1px solid #d1d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
ul.items{margin:4px 0 0;padding-left:18px}
.k{font-weight:600}
.muted{color:#59636e}
.s-in-sync{background:#dafbe1}
.s-drifted,.s-missing,.s-unexpected{background:#ffebe9}
.s-unknown{background:#eaeef2}
.h-healthy{box-shadow:inset 5px 0 #1a7f37}
.h-progressing{box-shadow:inset 5px 0 #bf8700}
.h-missing,.h-degraded{box-shadow:inset 5px 0 #cf222e}
.h-unknown{box-shadow:inset 5px 0 #818b98}
td.hl{padding-left:12px}
.incomplete{border:1px solid #d1d9e0;border-left:4px solid #59636e;background:#eaeef2;padding:6px 12px;margin:0 0 8px}
.mx{display:inline-block;vertical-align:top;max-height:78vh;overflow:auto;border:1px solid #d1d9e0;max-width:100%}
table.matrix{table-layout:fixed;border-collapse:separate;border-spacing:0}
table.matrix th,table.matrix td{border:0;border-right:1px solid #d1d9e0;border-bottom:1px solid #d1d9e0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table.matrix thead th{position:sticky;top:0;z-index:2;background:#f6f8fa}
table.matrix tbody th{position:sticky;left:0;z-index:1;background:#fff;font-weight:600}
table.matrix thead th.corner{left:0;z-index:3}
table.matrix td.c{padding:3px 6px 3px 10px;font-size:12px;line-height:1.35}
table.matrix td.c b,table.matrix td.c span{display:block;overflow:hidden;text-overflow:ellipsis}
table.matrix td.none{background:#fff}
table.matrix th small{display:block;font-weight:400;color:#59636e}
table.details{width:100%}
table.details td{font-size:13px}
`.trim();

/** The count tiles of a report. Why neutral at zero: a green "0 in sync" or a red "0 drifted" reads as an alarm
 * or an all-clear that the number does not give. */
export function tilesHtml(s: DriftSummary): string {
  const tile = (n: number | string, label: string, cls: string, zero: boolean) => `<li${zero || !cls ? "" : ` class="${cls}"`}><b>${escapeHtml(String(n))}</b>${label}</li>`;
  return [
    '<ul class="counts">',
    tile(s.apps, "apps", "", true),
    tile(s.targets, "targets", "", true),
    tile(s.inSync, "in sync", "s-in-sync", s.inSync === 0),
    tile(s.drifted, "drifted", "s-drifted", s.drifted === 0),
    tile(s.unknown, "unknown", "s-unknown", s.unknown === 0),
    tile(`${s.coverage}%`, "coverage", "", true),
    "</ul>",
  ].join("\n");
}

const APP_REM = 15;
const COL_REM = 10.5;

/** The matrix as one table: a row per app of `apps` (default: all), a column per cluster, host group and the
 * mesh. Every cell has its status and health as classes and data attributes, and the versions it runs. */
export function matrixHtml(m: Matrix, apps: readonly (string | null)[] = m.apps): string {
  const width = APP_REM + COL_REM * m.columns.length;
  const cols = [`<col class="app" style="width:${APP_REM}rem">`, ...m.columns.map(() => `<col style="width:${COL_REM}rem">`)];
  const head = `<tr><th class="corner" scope="col">app \\ target</th>${m.columns.map(columnHead).join("")}</tr>`;
  const body = apps.map((app) => `<tr data-app="${escapeHtml(app ?? "")}"><th scope="row" title="${escapeHtml(appLabel(app))}">${escapeHtml(appLabel(app))}</th>${m.columns.map((c) => cellHtml(cellOf(m, app, c), c)).join("")}</tr>`);
  return [
    `<div class="mx"><table class="matrix" data-env="${escapeHtml(m.env)}" style="width:${width}rem">`,
    `<colgroup>${cols.join("")}</colgroup>`,
    `<thead>${head}</thead>`,
    `<tbody>`,
    ...(body.length > 0 ? body : [`<tr><td colspan="${m.columns.length + 1}" class="muted">no app matches</td></tr>`]),
    "</tbody></table></div>",
  ].join("\n");
}


function columnHead(c: MatrixColumn): string {
  const what = c.kind === "cluster" ? "cluster" : c.kind === "hostGroup" ? `host group · ${c.hosts.length} host${c.hosts.length === 1 ? "" : "s"}` : "mesh";
  return `<th scope="col" data-column="${escapeHtml(c.id)}" data-kind="${c.kind}" title="${escapeHtml(c.id)}">${escapeHtml(c.id)}<small>${what}</small></th>`;
}

function cellHtml(cell: MatrixCell | undefined, col: MatrixColumn): string {
  const column = escapeHtml(col.id);
  if (!cell) return `<td class="c none" data-column="${column}"></td>`;
  const versions = versionText(cell);
  const many = cell.rows.length > 1 || col.kind === "hostGroup";
  const count = many ? `${cell.inSync}/${cell.rows.length} in sync` : "";
  const title = `${appLabel(cell.app)} on ${col.id}: ${cell.status}, ${cell.health} (${cell.healthDetail})${versions ? ` · ${versions}` : ""}${count ? ` · ${count}` : ""}`;
  return [
    `<td class="c s-${cell.status} h-${cell.health}" data-column="${column}" data-status="${cell.status}" data-health="${cell.health}" data-version="${escapeHtml(cell.versions.map((v) => v.version).join(", "))}" title="${escapeHtml(title)}">`,
    `<b>${cell.status} · ${cell.health}</b>`,
    `<span class="v">${versions ? escapeHtml(versions) : '<span class="muted">no version seen</span>'}</span>`,
    count ? `<span class="n">${count}</span>` : "",
    "</td>",
  ].join("");
}

/** `1.4.2`, or `1.4.2 ×3 · 1.4.1 ×1` when the targets of a cell run several versions. */
function versionText(cell: MatrixCell): string {
  if (cell.versions.length === 0) return "";
  if (cell.versions.length === 1) return cell.versions[0]!.version;
  return cell.versions.map((v) => `${v.version} ×${v.count}`).join(" · ");
}

/** The rows as one details table: target, status, health with what decided it, version, drift items. */
export function detailsHtml(rows: readonly DriftRow[], openItems: number): string {
  return [
    '<table class="details">',
    "<thead><tr><th>app</th><th>target</th><th>runtime</th><th>status</th><th>health</th><th>version</th><th>drift</th></tr></thead>",
    "<tbody>",
    ...rows.map((r) => detailRow(r, openItems)),
    "</tbody>",
    "</table>",
  ].join("\n");
}

function detailRow(r: DriftRow, openItems: number): string {
  const cells = [
    `<td>${escapeHtml(appLabel(r.app))}</td>`,
    `<td>${escapeHtml(r.target)}</td>`,
    `<td>${r.runtime}</td>`,
    `<td class="s-${r.status}">${r.status}</td>`,
    `<td class="hl h-${r.health}">${r.health}<br><span class="muted">${escapeHtml(r.healthDetail)}</span></td>`,
    `<td>${r.version === null ? '<span class="muted">none</span>' : escapeHtml(r.version)}</td>`,
    `<td>${items(r.items, openItems)}</td>`,
  ];
  return `<tr>${cells.join("")}</tr>`;
}

function items(list: DriftItem[], openItems: number): string {
  if (list.length === 0) return '<span class="muted">none</span>';
  const lis = list.map((i) => `<li><span class="k">${i.kind}</span> <code>${escapeHtml(i.object)}</code> ${escapeHtml(i.detail)}</li>`);
  const open = list.length <= openItems ? " open" : "";
  return `<details${open}><summary>${list.length} item${list.length === 1 ? "" : "s"}</summary><ul class="items">${lis.join("")}</ul></details>`;
}

/** The line of a report's meta: revision and when it was made. */
export function metaLine(report: DriftReport): string {
  const rev = report.revision ? `revision <code>${escapeHtml(report.revision.slice(0, 12))}</code> · ` : "";
  return `${rev}generated ${escapeHtml(report.generatedAt)}`;
}
