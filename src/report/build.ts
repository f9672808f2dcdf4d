// Builds the drift report: desired × actual × plan (+ registry drift) → one row per app × target with its
// sync status, its health and the items that differ. Pure: the time comes in as an argument.
import { compareStrings, firstLine, proxyApps, type ActualResource, type ActualState, type DesiredState, type Plan, type PlanStep, type Resource, type ResourceKey, type Runtime } from "../model/index.js";
import { objectName } from "../plan/index.js";
import { formatField } from "../plan/format-value.js";
import { HEALTH_ORDER, worst, type Health, type HealthResult } from "../health/index.js";
import { registryDriftOf, type RegistryDrift } from "../health/registry.js";
import { hooksOf } from "../runtimes/index.js";
import { MESH_TARGET } from "../runtimes/mesh/index.js";
import { holdsRegistrations, registrationOf, registryRuntime } from "../runtimes/registrations.js";
import { ITEM_KINDS, type DriftItem, type DriftReport, type DriftRow, type DriftSummary, type RowStatus } from "./model.js";

/** What a drift report is made from. */
export interface DriftInput {
  desired: DesiredState;
  actual: ActualState;
  /** The plan of `desired` × `actual` (its steps and unknown items become the report's items). */
  plan: Plan;
  revision: string | null;
  /** When the report is made; also the "now" of Deployment health. */
  now: Date;
  /** Registry drift; default: computed from the registrations (`consul` resources) of desired and actual,
   * or none when the actual state names Consul as unreachable (its registrations are then unknown items). */
  registry?: readonly RegistryDrift[];
  /** Registry drift of pod instances (src/health/pod-registry.ts), added to the registry drift. */
  pods?: readonly RegistryDrift[];
  /** What kept pod registrations from being compared (Consul or a cluster's pods not read): an unreachable item
   * each in the environment's registry row, so the report is never in sync while they were not compared. */
  podsUnread?: readonly { object: string; detail: string }[];
  /** How long `Available=False` may last before a Deployment counts as degraded (default 10 minutes,
   * Kubernetes' own default progress deadline). */
  progressTimeoutMs?: number;
  /** How long a proxy may stay disconnected (it restarts, it reconnects to another replica) before it is drift
   * (default 60 s). */
  proxyGraceMs?: number;
}

/** Default of {@link DriftInput.proxyGraceMs}. */
export const DEFAULT_PROXY_GRACE_MS = 60_000;

/** Default of {@link DriftInput.progressTimeoutMs}. */
export const DEFAULT_PROGRESS_TIMEOUT_MS = 600_000;

interface RowAcc {
  app: string | null;
  runtime: Runtime;
  target: string;
  resources: Map<ResourceKey, { desired?: Resource; actual?: ActualResource }>;
  items: DriftItem[];
  unknown: Set<ResourceKey>;
}

/** Builds the report. Same input, same bytes out: rows and items are sorted (see {@link DriftReport}). */
export function buildDriftReport(input: DriftInput): DriftReport {
  const rows = new Map<string, RowAcc>();
  const rowOf = (r: { app: string | null; runtime: Runtime; target: string }): RowAcc => {
    const kind = hooksOf(r.runtime).report.row;
    const id = `${r.app ?? ""}\u0000${r.target}\u0000${kind}`;
    let row = rows.get(id);
    if (!row) rows.set(id, (row = { app: r.app, runtime: kind, target: r.target, resources: new Map(), items: [], unknown: new Set() }));
    return row;
  };
  for (const d of input.desired.resources) rowOf(d).resources.set(d.key, { desired: d });
  for (const a of input.actual.resources) {
    const row = rowOf(a);
    row.resources.set(a.key, { ...row.resources.get(a.key), actual: a });
  }
  const registry = [...(input.registry ?? (input.actual.unreachable.some((u) => holdsRegistrations(u.runtime)) ? [] : registryDriftOf(input.desired, input.actual)))];
  if (input.pods) registry.push(...input.pods);
  const covered = new Set(registry.map((d) => `${d.kind}:${d.id}`));
  for (const step of input.plan.steps) rowOf(step).items.push(...stepItems(step, covered));
  addUnknown(input, rowOf);
  addRegistry(input, registry, rowOf);
  // When the observation could not read the registry, its registrations are unknown items already (one cause, one item).
  const registryUnread = input.actual.unreachable.some((u) => holdsRegistrations(u.runtime));
  for (const u of registryUnread ? [] : (input.podsUnread ?? [])) rowOf({ app: null, runtime: registryRuntime(), target: "consul" }).items.push({ kind: "unreachable", object: u.object, detail: u.detail });
  addProxies(input, rowOf);
  const now = input.now;
  const timeout = input.progressTimeoutMs ?? DEFAULT_PROGRESS_TIMEOUT_MS;
  const out = [...rows.values()].map((r) => finishRow(r, now, timeout)).sort(compareRows);
  return {
    apiVersion: "amphi.dev/v1",
    kind: "DriftReport",
    env: input.desired.env,
    revision: input.revision,
    generatedAt: now.toISOString(),
    summary: summarize(out),
    rows: out,
  };
}

/** Items of one plan step, in its runtime's words. Items that registry drift already names are left to
 * it (one item per fact, in the registry's words). */
function stepItems(step: PlanStep, covered: ReadonlySet<string>): DriftItem[] {
  const id = step.object;
  const hooks = hooksOf(step.runtime).report;
  const isCovered = (path: string | null): boolean => {
    const fact = hooks.coveredBy?.(step.op, id, path) ?? null;
    return fact !== null && covered.has(fact);
  };
  if (step.op === "create") return isCovered(null) ? [] : [{ kind: "missing", object: id, detail: hooks.missing(step) }];
  if (step.op === "delete") return isCovered(null) ? [] : [{ kind: "unexpected", object: id, detail: hooks.unexpected(step) }];
  return step.fields.flatMap((f): DriftItem[] => {
    if (isCovered(f.path)) return [];
    const own = hooks.fieldItem?.(f) ?? null;
    return [own ? { ...own, object: id } : { kind: "field", object: id, detail: formatField(f) }];
  });
}

/** Unreadable resources: one item per row and reason, naming every object it hides. */
function addUnknown(input: DriftInput, rowOf: (r: { app: string | null; runtime: Runtime; target: string }) => RowAcc): void {
  const names = new Map<ResourceKey, string>();
  for (const r of [...input.desired.resources, ...input.actual.resources]) names.set(r.key, objectName(r));
  const groups = new Map<RowAcc, Map<string, string[]>>();
  for (const u of input.plan.unknown) {
    const row = rowOf(u);
    row.unknown.add(u.key);
    const byReason = groups.get(row) ?? new Map<string, string[]>();
    groups.set(row, byReason);
    byReason.set(u.reason, [...(byReason.get(u.reason) ?? []), names.get(u.key) ?? u.key]);
  }
  for (const [row, byReason] of groups) {
    for (const [reason, objects] of byReason) row.items.push({ kind: "unreachable", object: [...new Set(objects)].sort(compareStrings).join(", "), detail: reason });
  }
}

/** Registry drift items, each in the row of the registration it names (its app on its host). */
function addRegistry(input: DriftInput, registry: readonly RegistryDrift[], rowOf: (r: { app: string | null; runtime: Runtime; target: string }) => RowAcc): void {
  const regs = new Map<string, Resource>();
  for (const r of [...input.actual.resources, ...input.desired.resources]) {
    const registration = registrationOf(r);
    if (registration) regs.set(registration.id, r);
  }
  for (const d of registry) {
    const r = d.row ? undefined : regs.get(d.id);
    const row = d.row ? rowOf(d.row) : r ? rowOf(r) : rowOf({ app: d.service, runtime: registryRuntime(), target: d.host || "unknown" });
    row.items.push({ kind: "registry", object: `${d.service}/${d.id}`, detail: d.detail, registry: d.kind });
  }
}

/** The mesh's proxies that NACKed their config or were lost (disconnected longer than the grace period): an
 * item each, in the mesh row of the app its node id names (an app of the config), else the environment's. Only
 * proxies the control plane has seen: which ones should be connected is not known here. */
function addProxies(input: DriftInput, rowOf: (r: { app: string | null; runtime: Runtime; target: string }) => RowAcc): void {
  const apps = new Set(input.desired.resources.map((r) => r.app));
  const graceMs = input.proxyGraceMs ?? DEFAULT_PROXY_GRACE_MS;
  // A VM host's sidecar (`host~<env>~<group>~<host>`) serves every app on its host: its items go to each of their rows.
  const onHost = new Map<string, string[]>();
  for (const r of input.desired.resources) if (r.runtime === "vm" && r.app !== null) onHost.set(r.target, [...(onHost.get(r.target) ?? []), r.app]);
  for (const p of input.actual.proxies ?? []) {
    const named = proxyApps(p.id, input.desired.env, (group, host) => onHost.get(`${group}/${host}`) ?? []).filter((a) => apps.has(a));
    const rows = () => (named.length > 0 ? named : [null]).map((app) => rowOf({ app, runtime: "mesh", target: MESH_TARGET }));
    const add = (item: DriftItem) => rows().forEach((row) => row.items.push(item));
    for (const [kind, t] of Object.entries(p.types).sort(([a], [b]) => compareStrings(a, b))) {
      if (t.nacked === null) continue;
      const good = t.acked === null ? "no version of it accepted yet" : `runs ${t.acked}`;
      add({ kind: "proxy", object: p.id, detail: `NACKed ${kind} version ${t.nacked} (${good}): ${t.error === null ? "no error given" : firstLine(t.error)}`, proxy: "nacked" });
    }
    if (!p.connected && input.now.getTime() - Date.parse(p.since) > graceMs) {
      add({ kind: "proxy", object: p.id, detail: `disconnected from the control plane since ${p.since}`, proxy: "disconnected" });
    }
  }
}

function finishRow(r: RowAcc, now: Date, timeoutMs: number): DriftRow {
  const items = r.items.map((it, i) => ({ it, i })).sort((a, b) => kindRank(a.it) - kindRank(b.it) || compareStrings(a.it.object, b.it.object) || a.i - b.i).map((x) => x.it);
  let { health, detail } = rowHealth(r, now, timeoutMs);
  // A proxy that refuses its config or is gone: the traffic of its instance does not follow the mesh.
  const proxy = items.find((i) => i.kind === "proxy");
  if (proxy && (r.resources.size === 0 || HEALTH_ORDER.indexOf(health) < HEALTH_ORDER.indexOf("degraded"))) {
    health = "degraded";
    detail = `${proxy.object}: ${proxy.detail}`;
  }
  return { app: r.app, runtime: r.runtime, target: r.target, status: rowStatus(r, items), health, healthDetail: detail, version: rowVersion(r), items };
}

/** The versions the row's live workloads run, as their runtimes' report hooks read them (unreadable ones left out). */
function rowVersion(r: RowAcc): string | null {
  const versions = new Set<string>();
  for (const [key, side] of r.resources) {
    if (!side.actual || r.unknown.has(key)) continue;
    const v = hooksOf(side.actual.runtime).report.version?.(side.actual) ?? null;
    if (v !== null) versions.add(v);
  }
  return versions.size === 0 ? null : [...versions].sort(compareStrings).join(", ");
}

function kindRank(item: DriftItem): number {
  return ITEM_KINDS.indexOf(item.kind);
}

/** Drift known → missing (nothing of it exists), unexpected (none of it is desired) or drifted; else unknown
 * when something could not be read; else in sync. */
function rowStatus(r: RowAcc, items: DriftItem[]): RowStatus {
  const unreadable = items.some((i) => i.kind === "unreachable");
  if (items.every((i) => i.kind === "unreachable")) return unreadable ? "unknown" : "in-sync";
  const sides = [...r.resources.values()];
  if (sides.length === 0 && items.every((i) => i.kind === "proxy" || i.kind === "unreachable")) return "drifted";
  if (!unreadable && sides.every((s) => !s.actual)) return "missing";
  if (sides.every((s) => !s.desired)) return "unexpected";
  return "drifted";
}

/** The worst health of the row's resources, with the message of the first resource that has it. */
function rowHealth(r: RowAcc, now: Date, timeoutMs: number): { health: Health; detail: string } {
  const verdicts: { object: string; result: HealthResult }[] = [];
  for (const [key, side] of [...r.resources].sort(([a, x], [b, y]) => workloadRank(x) - workloadRank(y) || compareStrings(a, b))) {
    const subject = (side.desired ?? side.actual)!;
    const result = r.unknown.has(key) ? { health: "unknown" as const, message: "could not be read" } : resourceHealth(side, now, timeoutMs);
    if (result) verdicts.push({ object: objectName(subject), result });
  }
  if (verdicts.length === 0) return { health: "unknown", detail: "nothing observed" };
  const health = worst(verdicts.map((v) => v.result.health));
  const first = verdicts.find((v) => v.result.health === health)!;
  return { health, detail: `${first.object}: ${first.result.message}` };
}

/** Workloads (Deployments, host instances) first: their message says most about the row's health. */
function workloadRank(side: { desired?: Resource; actual?: ActualResource }): number {
  const r = (side.desired ?? side.actual)!;
  return hooksOf(r.runtime).report.workload(r) ? 0 : 1;
}

/** Health of one resource, or null when it says nothing about health (a registration without a check). */
function resourceHealth(side: { desired?: Resource; actual?: ActualResource }, now: Date, progressTimeoutMs: number): HealthResult | null {
  const runtime = (side.desired ?? side.actual)!.runtime;
  const actual = side.actual?.runtime === runtime ? side.actual : undefined;
  return hooksOf(runtime).report.health({ desired: side.desired, actual }, { now, progressTimeoutMs });
}

function compareRows(a: DriftRow, b: DriftRow): number {
  if ((a.app === null) !== (b.app === null)) return a.app === null ? 1 : -1;
  return compareStrings(a.app ?? "", b.app ?? "") || compareStrings(a.runtime, b.runtime) || compareStrings(a.target, b.target);
}

function summarize(rows: readonly DriftRow[]): DriftSummary {
  const count = (pred: (r: DriftRow) => boolean) => rows.filter(pred).length;
  const read = count((r) => !r.items.some((i) => i.kind === "unreachable"));
  return {
    apps: new Set(rows.flatMap((r) => (r.app === null ? [] : [r.app]))).size,
    targets: new Set(rows.map((r) => r.target)).size,
    inSync: count((r) => r.status === "in-sync"),
    drifted: count((r) => r.status === "drifted" || r.status === "missing" || r.status === "unexpected"),
    unknown: count((r) => r.status === "unknown"),
    coverage: rows.length === 0 ? 100 : Math.round((read / rows.length) * 1000) / 10,
  };
}
