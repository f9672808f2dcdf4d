// Commit statuses from health: per app × environment a state (success/failure/pending/error) and a short
// description (`2/3 healthy · vm-3 missing in Consul`) under the context `amphi/<env>/<app>`; and for plans
// of pull requests, `amphi/plan/<env>` with the counts of the plan. Pure; forges are adapters/forge.
import { worst, type Health } from "./index.js";
import type { RegistryDriftKind } from "./registry.js";
import { MAX_DESCRIPTION, type CommitState, type CommitStatus } from "../ports/status.js";

export { COMMIT_STATES, MAX_DESCRIPTION, type CommitState, type CommitStatus } from "../ports/status.js";

/** What {@link statusesFor} reads of a report; a `DriftReport` is one. */
export interface StatusSource {
  env: string;
  rows: readonly StatusRow[];
}
/** One app × target of a report. */
export interface StatusRow {
  app: string | null;
  target: string;
  status: string;
  health: Health;
  items: readonly { kind: string; object?: string; registry?: RegistryDriftKind; proxy?: "nacked" | "disconnected" }[];
}

/** Options of the status builders. */
export interface StatusOptions {
  /** Link every status points to (the HTML report, the run). */
  targetUrl?: string;
}

/** The commit-status state of a health: healthy → success, progressing → pending, missing and degraded →
 * failure, unknown → error (amphi could not tell). */
export function stateOf(health: Health): CommitState {
  if (health === "healthy") return "success";
  if (health === "progressing") return "pending";
  return health === "unknown" ? "error" : "failure";
}

/** The context of an app's status: `amphi/<env>/<app>`. */
export function appContext(env: string, app: string): string {
  return `amphi/${env}/${app}`;
}

/** The context of a plan's status: `amphi/plan/<env>`. */
export function planContext(env: string): string {
  return `amphi/plan/${env}`;
}

/** One status per app of the report (apps in the config; rows of host rules carry none), sorted by app. */
export function statusesFor(report: StatusSource, opts: StatusOptions = {}): CommitStatus[] {
  const apps = [...new Set(report.rows.filter((r) => r.app !== null && r.status !== "unexpected").map((r) => r.app!))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return apps.map((app) => appStatus(report.env, app, report.rows.filter((r) => r.app === app), opts));
}

// Registry drift that breaks routing counts like a missing instance; critical/warning checks already show in health.
const ROUTING_DRIFT: ReadonlySet<RegistryDriftKind> = new Set(["missing", "unexpected", "address", "port", "version"]);
const REGISTRY_WORDS: Record<RegistryDriftKind, string> = {
  missing: "missing in Consul",
  unexpected: "unexpected in Consul",
  address: "wrong address in Consul",
  port: "wrong port in Consul",
  version: "wrong version in Consul",
  critical: "check critical in Consul",
  warning: "check warning in Consul",
};

/** The status of one app from its rows: state from the worst health of its targets (rows of targets it is
 * no longer desired on do not count) and its registry drift; description from the same facts. */
export function appStatus(env: string, app: string, rows: readonly StatusRow[], opts: StatusOptions = {}): CommitStatus {
  const desired = rows.filter((r) => r.status !== "unexpected");
  const registry = rows.flatMap((r) => r.items.flatMap((i) => (i.registry && ROUTING_DRIFT.has(i.registry) ? [{ row: r, kind: i.registry }] : [])));
  const health = worst([...desired.map((r) => r.health), ...(registry.length > 0 ? (["missing"] as const) : [])]);
  const name = shortNames(rows);
  const parts = [`${desired.filter((r) => r.health === "healthy").length}/${desired.length} healthy`];
  for (const r of desired) if (r.health !== "healthy") parts.push(`${name(r)} ${r.health}`);
  for (const r of rows) if (r.status === "unexpected") parts.push(`${name(r)} not desired`);
  for (const phrase of new Set(registry.map(({ row, kind }) => `${name(row)} ${REGISTRY_WORDS[kind]}`))) parts.push(phrase);
  parts.push(...proxyPhrases(rows));
  const outOfSync = desired.filter((r) => r.status !== "in-sync" && r.status !== "unknown").length;
  if (outOfSync > 0) parts.push(`${outOfSync} out of sync`);
  return withUrl({ context: appContext(env, app), state: stateOf(health), description: truncateDescription(parts.join(" · ")) }, opts);
}

/** The mesh's proxies of the app that refuse their config or are gone: `2 proxies NACK their config`,
 * `1 proxy disconnected` (their rows are degraded, so the state already says failure). */
function proxyPhrases(rows: readonly StatusRow[]): string[] {
  const count = (kind: "nacked" | "disconnected") => new Set(rows.flatMap((r) => r.items.filter((i) => i.proxy === kind).map((i) => i.object ?? ""))).size;
  const [nacked, gone] = [count("nacked"), count("disconnected")];
  const out: string[] = [];
  if (nacked > 0) out.push(nacked === 1 ? "1 proxy NACKs its config" : `${nacked} proxies NACK their config`);
  if (gone > 0) out.push(`${gone} ${gone === 1 ? "proxy" : "proxies"} disconnected`);
  return out;
}

/** Names of targets as a description shows them: the host (`vm-3`) or cluster, or the whole target when
 * two of the app's targets share a last segment. */
function shortNames(rows: readonly StatusRow[]): (r: StatusRow) => string {
  const last = (t: string) => t.slice(t.lastIndexOf("/") + 1);
  const counts = new Map<string, number>();
  for (const t of new Set(rows.map((r) => r.target))) counts.set(last(t), (counts.get(last(t)) ?? 0) + 1);
  return (r) => ((counts.get(last(r.target)) ?? 0) > 1 ? r.target : last(r.target));
}

/** What {@link planStatus} reads of a plan. */
export interface PlanCounts {
  env: string;
  summary: { create: number; update: number; delete: number; unknown: number };
}

/** The status of a plan, as Atlantis posts one: success when planning worked, the description saying what
 * it would do (`2 to create, 1 to update, 0 to delete`, or `no changes`). A plan that could not read every
 * target is `error`: what it hides is not planned, so the plan is not one to merge on. */
export function planStatus(plan: PlanCounts, opts: StatusOptions = {}): CommitStatus {
  const s = plan.summary;
  const changes = s.create + s.update + s.delete === 0 ? "no changes" : `${s.create} to create, ${s.update} to update, ${s.delete} to delete`;
  const description = s.unknown > 0 ? `${changes}, ${s.unknown} unknown (target unreachable)` : changes;
  return withUrl({ context: planContext(plan.env), state: s.unknown > 0 ? "error" : "success", description: truncateDescription(description) }, opts);
}

/** The context of an environment's own status: `amphi/<env>`. */
export function envStatusContext(env: string): string {
  return `amphi/${env}`;
}

/** The environment's own status from its report, next to the per-app ones: `error` when some target could not
 * be seen (naming them: `incomplete: 3 targets not seen (eu1, legacy/vm-1, …) · 0/5 in sync`), else the
 * worst of its apps' states (success with no apps) and `5/5 in sync`. */
export function envStatus(report: StatusSource, apps: readonly CommitStatus[], opts: StatusOptions = {}): CommitStatus {
  const unseen = [...new Set(report.rows.filter((r) => r.items.some((i) => i.kind === "unreachable")).map((r) => r.target))].sort();
  const inSync = `${report.rows.filter((r) => r.status === "in-sync").length}/${report.rows.length} in sync`;
  if (unseen.length > 0) {
    const names = unseen.length > 4 ? `${unseen.slice(0, 4).join(", ")}, …` : unseen.join(", ");
    const description = `incomplete: ${unseen.length} target${unseen.length === 1 ? "" : "s"} not seen (${names}) · ${inSync}`;
    return withUrl({ context: envStatusContext(report.env), state: "error", description: truncateDescription(description) }, opts);
  }
  const order: CommitState[] = ["success", "pending", "failure", "error"];
  const state = apps.reduce<CommitState>((w, s) => (order.indexOf(s.state) > order.indexOf(w) ? s.state : w), "success");
  return withUrl({ context: envStatusContext(report.env), state, description: truncateDescription(inSync) }, opts);
}

/** The status of a plan that could not be made (invalid config, unreadable state): failure, with the cause. */
export function planFailedStatus(env: string, message: string, opts: StatusOptions = {}): CommitStatus {
  const first = message.split("\n")[0] ?? "";
  return withUrl({ context: planContext(env), state: "failure", description: truncateDescription(`plan failed: ${first}`) }, opts);
}

function withUrl(s: CommitStatus, opts: StatusOptions): CommitStatus {
  return opts.targetUrl ? { ...s, targetUrl: opts.targetUrl } : s;
}

/** `text` cut to at most `max` UTF-16 code units (so also at most `max` code points), ending in `…` when
 * cut. Why code units: they are the stricter count; and the cut never splits a surrogate pair, so an emoji
 * or a CJK extension character is dropped whole, never left as half a character the forge rejects. */
export function truncateDescription(text: string, max = MAX_DESCRIPTION): string {
  const flat = text.replace(/\s*[\r\n]+\s*/g, " ");
  if (flat.length <= max) return flat;
  let out = "";
  for (const ch of flat) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}
