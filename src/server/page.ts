// The fleet page of `amphi serve` (GET / for every environment, GET /env/<env> for one): rendered on the
// server into one self-contained document — inline CSS, no script, no external asset — so it shows everything
// with scripts off. Per environment: the count tiles, the app × target matrix (the same as the HTML report's),
// what is wrong in it, the topology and the mesh graph's slot; then the run timeline. Filters (environment,
// status, health, app name) are a GET form read here; the page reloads itself by <meta http-equiv="refresh">.
// Pure: the state in, HTML out.
import type { RunRecord } from "../model/index.js";
import {
  buildMatrix, CSS, detailsHtml, escapeHtml, filterApps, FILTER_HEALTHS, FILTER_STATUSES, formatIncomplete, meshGraphSection, layoutFromReport,
  matrixHtml, metaLine, tilesHtml, topologyHtml, topologyLayout, TOPOLOGY_CSS, type MatrixFilter,
} from "../report/index.js";
import type { EnvView } from "./fleet.js";
import { RUNS_CSS, runsHtml } from "./page-runs.js";

/** The Content-Security-Policy the page is sent with: nothing loads, nothing runs, forms post only here, no framing. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The page's filters, as its query names them: `env`, `status`, `health`, `app`. */
export interface PageFilter extends MatrixFilter {
  /** The environment to show (empty: all); on /env/<env> the path's. */
  env: string;
}

/** What one page is drawn from. */
export interface PageInput {
  views: readonly EnvView[];
  runs: readonly RunRecord[];
  /** The environment of /env/<env>, or null for /. */
  scope: string | null;
  filter: PageFilter;
  refreshSeconds: number;
  now: Date;
}

/** Reads the filters of a page's query; an unknown value is an error naming the parameter and what it may be. */
export function readPageFilter(query: URLSearchParams, envs: readonly string[], scope: string | null): { filter: PageFilter; error: string | null } {
  const filter: PageFilter = { env: scope ?? query.get("env") ?? "", app: (query.get("app") ?? "").slice(0, 200), status: "", health: "" };
  const status = query.get("status") ?? "";
  const health = query.get("health") ?? "";
  const errors: string[] = [];
  if ((FILTER_STATUSES as readonly string[]).includes(status)) filter.status = status as PageFilter["status"];
  else errors.push(`status=${status} is not a status (one of ${FILTER_STATUSES.filter(Boolean).join(", ")})`);
  if ((FILTER_HEALTHS as readonly string[]).includes(health)) filter.health = health as PageFilter["health"];
  else errors.push(`health=${health} is not a health (one of ${FILTER_HEALTHS.filter(Boolean).join(", ")})`);
  if (filter.env !== "" && !envs.includes(filter.env)) errors.push(`env=${filter.env} is not served here (served: ${envs.join(", ")})`);
  return { filter, error: errors.length > 0 ? errors.join("; ") : null };
}

/** The page. */
export function renderFleetPage(input: PageInput): string {
  const views = input.views.filter((v) => input.filter.env === "" || v.name === input.filter.env);
  const title = input.scope === null ? "amphi fleet" : `amphi fleet — ${input.scope}`;
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="refresh" content="${input.refreshSeconds}">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>\n${CSS}\n${TOPOLOGY_CSS}\n${RUNS_CSS}\n${PAGE_CSS}\n</style>`,
    "</head>",
    "<body>",
    "<header>",
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">${input.views.length} environment${input.views.length === 1 ? "" : "s"} served · rendered ${escapeHtml(input.now.toISOString())} · reloads every ${input.refreshSeconds} s</p>`,
    navHtml(input),
    filterForm(input),
    "</header>",
    "<main>",
    ...(views.length > 0 ? views.map((v) => envSection(v, input.filter)) : ['<p class="muted">No environment matches.</p>']),
    '<section class="timeline" id="runs">',
    "<h2>Recent runs</h2>",
    runsHtml(input.runs, input.now),
    "</section>",
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** The page an unknown filter value gets (400): the error, and the way back. */
export function renderFilterError(error: string): string {
  return simplePage("amphi fleet — bad filter", `<p class="incomplete">${escapeHtml(error)}</p><p><a href="/">Show every environment, unfiltered</a></p>`);
}

/** A small page: title, body HTML (already escaped), the page's style. */
export function simplePage(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeHtml(title)}</title>\n<style>\n${CSS}\n${PAGE_CSS}\n</style>\n</head>\n<body>\n<h1>${escapeHtml(title)}</h1>\n${body}\n</body>\n</html>\n`;
}

function navHtml(input: PageInput): string {
  const links = [`<a href="/"${input.scope === null ? ' aria-current="page"' : ""}>all environments</a>`];
  for (const v of input.views) links.push(`<a href="/env/${encodeURIComponent(v.name)}"${input.scope === v.name ? ' aria-current="page"' : ""}>${escapeHtml(v.name)}</a>`);
  return `<nav>${links.join(" · ")}</nav>`;
}

function filterForm(input: PageInput): string {
  const f = input.filter;
  const action = input.scope === null ? "/" : `/env/${encodeURIComponent(input.scope)}`;
  const option = (value: string, label: string, selected: string) => `<option value="${escapeHtml(value)}"${value === selected ? " selected" : ""}>${escapeHtml(label)}</option>`;
  const env = input.scope === null
    ? `<label>environment <select name="env">${option("", "all", f.env)}${input.views.map((v) => option(v.name, v.name, f.env)).join("")}</select></label>`
    : "";
  const status = `<label>status <select name="status">${FILTER_STATUSES.map((s) => option(s, s === "" ? "any" : s, f.status)).join("")}</select></label>`;
  const health = `<label>health <select name="health">${FILTER_HEALTHS.map((h) => option(h, h === "" ? "any" : h, f.health)).join("")}</select></label>`;
  const app = `<label>app <input type="search" name="app" value="${escapeHtml(f.app)}" placeholder="name contains"></label>`;
  return `<form class="filters" method="get" action="${action}">${env} ${status} ${health} ${app} <button type="submit">filter</button> <a href="${action}">reset</a></form>`;
}

function envSection(v: EnvView, filter: PageFilter): string {
  const id = escapeHtml(v.name);
  const head = `<h2><a href="/env/${encodeURIComponent(v.name)}">${id}</a></h2>`;
  if (v.report === null) {
    // Why not an empty matrix: an environment nothing was seen of yet must not read as an all-clear.
    return `<section class="env" id="env-${id}" data-env="${id}" data-state="no-cycle">${head}<p class="incomplete">No cycle yet: the first cycle of ${id} has not reported. Nothing here is known to be in sync.</p></section>`;
  }
  const report = v.report;
  const matrix = buildMatrix(report);
  const apps = filterApps(matrix, filter);
  const keep = new Set(apps.flatMap((a) => (a === null ? [] : [a])));
  const incomplete = formatIncomplete(report);
  const shown = new Set(apps);
  const shownRows = report.rows.filter((r) => shown.has(r.app));
  const problems = shownRows.filter((r) => r.status !== "in-sync" || r.health !== "healthy");
  const layout = v.config ? topologyLayout(v.config.env, v.config.apps) : layoutFromReport(report);
  const filtered = apps.length < matrix.apps.length;
  return [
    `<section class="env" id="env-${id}" data-env="${id}">`,
    head,
    `<p class="meta">${metaLine(report)}</p>`,
    tilesHtml(report.summary),
    ...(incomplete ? [`<p class="incomplete">${escapeHtml(incomplete)}</p>`] : []),
    `<h3>Apps × targets <span class="muted">${filtered ? `${apps.length} of ${matrix.apps.length} rows shown (filtered)` : `${matrix.apps.length} rows`}</span></h3>`,
    matrixHtml(matrix, apps),
    `<h3>Not in sync or not healthy <span class="muted">${problems.length} of ${shownRows.length} app × target rows</span></h3>`,
    problems.length > 0 ? detailsHtml(problems, 3) : '<p class="muted">Every row shown is in sync and healthy.</p>',
    "<h3>Topology</h3>",
    topologyHtml(layout, report, filtered ? keep : null),
    // the graph its cycle built with the report (live counts and checks from the actual state, as in the file)
    v.graph ? meshGraphSection(v.graph) : "",
    "</section>",
  ].join("\n");
}

const PAGE_CSS = `
nav{margin:0 0 10px}nav a{margin-right:2px}nav a[aria-current]{font-weight:600;color:#1f2328}
form.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:center;padding:8px 10px;border:1px solid #d1d9e0;border-radius:6px;background:#f6f8fa}
section.env{border-top:2px solid #d1d9e0;margin-top:18px}
table.splits td.split{min-width:12rem}
`.trim();
