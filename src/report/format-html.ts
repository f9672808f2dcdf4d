// The HTML format of a drift report: one self-contained file (inline CSS, no scripts, no external assets)
// that reads the same when opened from disk, attached to a CI run or served by `amphi serve`.
// Item lists sit in <details>, so nothing needs JavaScript; every piece of text is escaped.
import type { DriftItem, DriftReport, DriftRow } from "./model.js";
import { formatIncomplete, sectionTitle } from "./format-text.js";
import { meshGraphSection, type MeshGraphInput } from "./mesh-graph.js";

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

// Why a CSP: the file may be opened from a CI artifact store on the same origin as other pages; even if a
// name slipped through unescaped, the browser would run no script and load nothing.
const CSP = "default-src 'none'; style-src 'unsafe-inline'";

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#59636e;margin:0 0 12px}
.counts{display:flex;flex-wrap:wrap;gap:8px;list-style:none;padding:0;margin:0 0 8px}
.counts li{border:1px solid #d1d9e0;border-radius:6px;padding:6px 12px;min-width:72px;text-align:center}
.counts b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d1d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
ul.items{margin:4px 0 0;padding-left:18px}
.k{font-weight:600}
.muted{color:#59636e}
.s-in-sync,.h-healthy{background:#dafbe1}
.s-drifted,.s-missing,.s-unexpected,.h-degraded,.h-missing{background:#ffebe9}
.s-unknown,.h-unknown{background:#eaeef2}
.h-progressing{background:#fff8c5}
.incomplete{border:1px solid #d1d9e0;border-left:4px solid #59636e;background:#eaeef2;padding:6px 12px;margin:0 0 8px}
`.trim();

/** Formats a drift report as one HTML document, ending with a newline; with `graph`, the mesh graph ends the body. */
export function formatDriftHtml(report: DriftReport, graph?: MeshGraphInput): string {
  const title = `amphi drift — ${report.env}`;
  const apps = [...new Set(report.rows.map(sectionTitle))];
  const sections = apps.map((app) => section(app, report.rows.filter((r) => sectionTitle(r) === app)));
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    "</head>",
    "<body>",
    header(report, title),
    "<main>",
    ...(sections.length > 0 ? sections : ['<p class="muted">Nothing is desired or found in this environment.</p>']),
    "</main>",
    ...(graph ? [meshGraphSection(graph)] : []),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function header(report: DriftReport, title: string): string {
  const s = report.summary;
  const incomplete = formatIncomplete(report);
  const rev = report.revision ? `revision <code>${escapeHtml(report.revision.slice(0, 12))}</code> · ` : "";
  const count = (n: number | string, label: string, cls = "") => `<li${cls ? ` class="${cls}"` : ""}><b>${escapeHtml(String(n))}</b>${label}</li>`;
  return [
    "<header>",
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">${rev}generated ${escapeHtml(report.generatedAt)}</p>`,
    '<ul class="counts">',
    count(s.apps, "apps"),
    count(s.targets, "targets"),
    count(s.inSync, "in sync", "s-in-sync"),
    count(s.drifted, "drifted", "s-drifted"),
    count(s.unknown, "unknown", "s-unknown"),
    count(`${s.coverage}%`, "coverage"),
    "</ul>",
    ...(incomplete ? [`<p class="incomplete">${escapeHtml(incomplete)}</p>`] : []),
    "</header>",
  ].join("\n");
}

function section(app: string, rows: DriftRow[]): string {
  return [
    "<section>",
    `<h2>${escapeHtml(app)}</h2>`,
    "<table>",
    "<thead><tr><th>target</th><th>runtime</th><th>status</th><th>health</th><th>drift</th></tr></thead>",
    "<tbody>",
    ...rows.map(row),
    "</tbody>",
    "</table>",
    "</section>",
  ].join("\n");
}

function row(r: DriftRow): string {
  const cells = [
    `<td>${escapeHtml(r.target)}</td>`,
    `<td>${r.runtime}</td>`,
    `<td class="s-${r.status}">${r.status}</td>`,
    `<td class="h-${r.health}">${r.health}<br><span class="muted">${escapeHtml(r.healthDetail)}</span></td>`,
    `<td>${items(r.items)}</td>`,
  ];
  return `<tr>${cells.join("")}</tr>`;
}

/** Rows with at most this many items show them open; longer lists start folded. */
export const OPEN_ITEMS = 3;

function items(list: DriftItem[]): string {
  if (list.length === 0) return '<span class="muted">none</span>';
  const lis = list.map((i) => `<li><span class="k">${i.kind}</span> <code>${escapeHtml(i.object)}</code> ${escapeHtml(i.detail)}</li>`);
  const open = list.length <= OPEN_ITEMS ? " open" : "";
  return `<details${open}><summary>${list.length} item${list.length === 1 ? "" : "s"}</summary><ul class="items">${lis.join("")}</ul></details>`;
}
