// The app × target matrix of a drift report: rows are apps (the hosts' own rules last), columns are the
// environment's clusters, host groups and the mesh; a host group's cell sums up its hosts (how many in sync,
// the worst status and health, the versions they run). Pure: a report in, plain data out; the page and the
// HTML report draw it (html-matrix.ts).
import { compareStrings } from "../model/index.js";
import { HEALTH_ORDER, worst, type Health } from "../health/index.js";
import { hooksOf } from "../runtimes/index.js";
import { ROW_STATUSES, type DriftReport, type DriftRow, type RowStatus } from "./model.js";

/** What a column stands for: a cluster, a host group (its hosts in `hosts`) or an environment-wide target (the mesh). */
export type ColumnKind = "cluster" | "hostGroup" | "environment";

/** One column of the matrix. `id` is the cluster or host group name, or the environment-wide target's name. */
export interface MatrixColumn {
  id: string;
  kind: ColumnKind;
  /** Host groups: their hosts seen in the report, sorted. */
  hosts: string[];
}

/** A version and how many of the cell's targets run it. */
export interface VersionCount {
  version: string;
  count: number;
}

/** One app on one column: the rows of its targets there, summed up. */
export interface MatrixCell {
  app: string | null;
  column: string;
  rows: DriftRow[];
  /** The worst status of the rows (ROW_STATUSES order). */
  status: RowStatus;
  health: Health;
  /** Rows in sync, of `rows.length`. */
  inSync: number;
  /** Versions the targets run, most common first (rows that name none are left out). */
  versions: VersionCount[];
  /** The health detail of the row that decided the health (the worst one, first by target). */
  healthDetail: string;
}

/** The matrix of one report. `apps` in report order (null: the hosts' own rules); `cells` by {@link cellKey} of
 * the app and `<kind>:<column id>` (read them with {@link cellOf}). */
export interface Matrix {
  env: string;
  columns: MatrixColumn[];
  apps: (string | null)[];
  cells: Map<string, MatrixCell>;
}

/** The key of a cell in {@link Matrix.cells}. */
export function cellKey(app: string | null, column: string): string {
  return `${app ?? ""}\u0000${column}`;
}

/** The column a row belongs to: its cluster, its host group (`<group>/<host>` → group), or its own target. */
export function columnOf(row: DriftRow): { id: string; kind: ColumnKind; host: string | null } {
  const place = hooksOf(row.runtime).target.place;
  if (place === "cluster") return { id: row.target, kind: "cluster", host: null };
  if (place === "host") {
    const slash = row.target.indexOf("/");
    return slash < 0 ? { id: row.target, kind: "hostGroup", host: row.target } : { id: row.target.slice(0, slash), kind: "hostGroup", host: row.target.slice(slash + 1) };
  }
  return { id: row.target, kind: "environment", host: null };
}

const KIND_ORDER: readonly ColumnKind[] = ["cluster", "hostGroup", "environment"];

/** Builds the matrix: columns clusters first, then host groups, then the rest, each by name. */
export function buildMatrix(report: DriftReport): Matrix {
  const columns = new Map<string, MatrixColumn & { hostSet: Set<string> }>();
  const groups = new Map<string, DriftRow[]>();
  const apps: (string | null)[] = [];
  const seenApps = new Set<string | null>();
  for (const row of report.rows) {
    const c = columnOf(row);
    const id = `${c.kind}:${c.id}`;
    let col = columns.get(id);
    if (!col) columns.set(id, (col = { id: c.id, kind: c.kind, hosts: [], hostSet: new Set() }));
    if (c.host !== null) col.hostSet.add(c.host);
    if (!seenApps.has(row.app)) {
      seenApps.add(row.app);
      apps.push(row.app);
    }
    const key = cellKey(row.app, id);
    const list = groups.get(key);
    if (list) list.push(row);
    else groups.set(key, [row]);
  }
  const cols = [...columns.values()]
    .map(({ hostSet, ...c }) => ({ ...c, hosts: [...hostSet].sort(compareStrings) }))
    .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || compareStrings(a.id, b.id));
  const cells = new Map<string, MatrixCell>();
  for (const [key, rows] of groups) {
    const [app, colId] = key.split("\u0000") as [string, string];
    cells.set(key, summarize(app === "" ? null : app, colId.slice(colId.indexOf(":") + 1), rows));
  }
  return { env: report.env, columns: cols, apps, cells };
}

/** The cell of `app` in column `col`, or undefined when the app has no target there. */
export function cellOf(matrix: Matrix, app: string | null, col: MatrixColumn): MatrixCell | undefined {
  return matrix.cells.get(cellKey(app, `${col.kind}:${col.id}`));
}

function summarize(app: string | null, column: string, rows: DriftRow[]): MatrixCell {
  const status = ROW_STATUSES[Math.max(...rows.map((r) => ROW_STATUSES.indexOf(r.status)))]!;
  const health = worst(rows.map((r) => r.health));
  const counts = new Map<string, number>();
  for (const r of rows) for (const v of r.version === null ? [] : [r.version]) counts.set(v, (counts.get(v) ?? 0) + 1);
  const versions = [...counts].map(([version, count]) => ({ version, count })).sort((a, b) => b.count - a.count || compareStrings(a.version, b.version));
  const decider = rows.find((r) => r.health === health) ?? rows[0]!;
  return { app, column, rows, status, health, inSync: rows.filter((r) => r.status === "in-sync").length, versions, healthDetail: decider.healthDetail };
}

/** Which rows of the matrix a filter keeps: apps whose name contains `app` (case-insensitive) and that have a
 * cell of `status` (`not-in-sync`: any status but in-sync) or of `health`. Empty strings keep everything. */
export interface MatrixFilter {
  app: string;
  status: RowStatus | "not-in-sync" | "";
  health: Health | "not-healthy" | "";
}

/** The statuses and healths a filter may name, for the page's form and the query's validation. */
export const FILTER_STATUSES: readonly MatrixFilter["status"][] = ["", "not-in-sync", ...ROW_STATUSES];
export const FILTER_HEALTHS: readonly MatrixFilter["health"][] = ["", "not-healthy", ...HEALTH_ORDER];

/** How an app's row is named (null: the hosts' own rules, such as capture). */
export function appLabel(app: string | null): string {
  return app ?? "(host rules)";
}

/** The apps of `matrix` the filter keeps, in matrix order; the name filter matches the label a user sees. */
export function filterApps(matrix: Matrix, filter: MatrixFilter): (string | null)[] {
  const needle = filter.app.trim().toLowerCase();
  return matrix.apps.filter((app) => {
    if (needle && !appLabel(app).toLowerCase().includes(needle)) return false;
    if (!filter.status && !filter.health) return true;
    const cells = matrix.columns.map((c) => cellOf(matrix, app, c)).filter((c) => c !== undefined);
    const rows = cells.flatMap((c) => c.rows);
    const statusOk = !filter.status || rows.some((r) => (filter.status === "not-in-sync" ? r.status !== "in-sync" : r.status === filter.status));
    const healthOk = !filter.health || rows.some((r) => (filter.health === "not-healthy" ? r.health !== "healthy" : r.health === filter.health));
    return statusOk && healthOk;
  });
}
