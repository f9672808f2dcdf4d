// The HTML format of a drift report: one self-contained file (inline CSS, no scripts, no external assets)
// that reads the same when opened from disk, attached to a CI run or served by `amphi serve`: the count
// tiles, the app × target matrix (the same one as the fleet page), the mesh graph (when given), then every row's
// details (health with the check that decided it, version, drift items in <details>, so nothing needs
// JavaScript). Every piece of text is escaped.
import type { DriftReport } from "./model.js";
import { formatIncomplete } from "./format-text.js";
import { buildMatrix } from "./matrix.js";
import { meshGraphSection, type MeshGraphInput } from "./mesh-graph.js";
import { CSS, detailsHtml, escapeHtml, matrixHtml, metaLine, tilesHtml } from "./html.js";

export { escapeHtml } from "./html.js";

// Why a CSP: the file may be opened from a CI artifact store on the same origin as other pages; even if a
// name slipped through unescaped, the browser would run no script and load nothing.
const CSP = "default-src 'none'; style-src 'unsafe-inline'";

/** Rows with at most this many items show them open; longer lists start folded. */
export const OPEN_ITEMS = 3;

/** Formats a drift report as one HTML document, ending with a newline; with `graph`, the mesh graph follows the matrix. */
export function formatDriftHtml(report: DriftReport, graph?: MeshGraphInput): string {
  const title = `amphi drift — ${report.env}`;
  const incomplete = formatIncomplete(report);
  const body =
    report.rows.length === 0
      ? ['<p class="muted">Nothing is desired or found in this environment.</p>']
      : [
          '<section class="matrix">',
          "<h2>Apps × targets</h2>",
          matrixHtml(buildMatrix(report)),
          "</section>",
          graph ? meshGraphSection(graph) : "",
          '<section class="details">',
          "<h2>Details</h2>",
          detailsHtml(report.rows, OPEN_ITEMS),
          "</section>",
        ];
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
    "<header>",
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">${metaLine(report)}</p>`,
    tilesHtml(report.summary),
    ...(incomplete ? [`<p class="incomplete">${escapeHtml(incomplete)}</p>`] : []),
    "</header>",
    "<main>",
    ...body.filter((s) => s !== ""),
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
