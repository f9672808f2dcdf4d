// The mesh graph's data: one environment of the config (apps, their services and `dependsOn`, traffic policy)
// and, when known, what runs (a drift report's rows, registry instances with their check status) in; plain
// nodes and edges with every label and tooltip already worded out. Pure; mesh-graph.ts lays it out and draws it.
import { compareStrings, findEnvironment, type ActualState, type AppModel, type EnvironmentModel, type Model, type Placement, type PodRegistration, type TrafficPolicy } from "../model/index.js";
import type { Health } from "../model/health.js";
import { formatDuration } from "../model/duration.js";
import type { ObservedRegistration } from "../health/registry.js";
import { observedRegistrationOf, registryRuntime } from "../runtimes/registrations.js";
import type { DriftReport, DriftRow } from "./model.js";

/** The colour of a node: the worst state of what is known about its instances, in this order from best to
 * worst: `passing`, `unknown` (something could not be read), `warning`, `critical`. A node of which nothing
 * live is known (a config-only graph) is `unknown`: neutral grey, never green by default. */
export const NODE_STATES = ["passing", "unknown", "warning", "critical"] as const;
/** One node state. */
export type NodeState = (typeof NODE_STATES)[number];

/** How many instances of one runtime a node has: `registered` counts what the registry holds (live), `desired`
 * what the config places (when the registry was not read). */
export interface InstanceCount {
  count: number;
  source: "registered" | "desired";
}

/** One node: an app (the unit `dependsOn` names) with its services. */
export interface MeshGraphNode {
  app: string;
  /** Its services, sorted: `user`, with ports as `http 8091`. */
  services: { name: string; ports: string[] }[];
  /** False for an app that placed apps depend on but that is not placed in this environment (drawn dashed). */
  placed: boolean;
  vm: InstanceCount;
  pods: InstanceCount;
  state: NodeState;
  /** Why the state is what it is, one line per source (`Consul: 2 passing, 1 critical`). */
  reasons: string[];
  /** Traffic policy of its services when no edge carries it (nothing placed depends on it), as edge lines. */
  policy: string[];
}

/** One edge: `from` depends on (calls) `to`; `policy` is the traffic policy of `to`'s services, one short line
 * each part (`v1 90% / v2 10%`, `timeout 2s`, `retry 2× · 500ms/try`); `detail` says it in full for the tooltip. */
export interface MeshGraphEdge {
  from: string;
  to: string;
  policy: string[];
  detail: string[];
}

/** The graph of one environment: nodes sorted by app, edges by `from` then `to`. `live` tells whether any live
 * data went in; `controlPlane` whether the environment has an xDS control plane to apply the traffic policy. */
export interface MeshGraphInput {
  env: string;
  live: boolean;
  controlPlane: boolean;
  nodes: MeshGraphNode[];
  edges: MeshGraphEdge[];
}

/** What is known live; every part optional (none: a config-only graph). */
export interface MeshGraphLive {
  /** The environment's drift report: each app × target row's health colours the app's node. */
  report?: DriftReport;
  /** VM instances in the registry with their check status. */
  registrations?: readonly ObservedRegistration[];
  /** An actual state: its registrations (`consul` resources, when it has any) count as `registrations`. */
  actual?: ActualState;
  /** Pod instances in the registry (written by the pod sync) with their check status. */
  pods?: readonly PodRegistration[];
}

/** The graph input of environment `envName` of `model` (an unknown name throws the usual InputError), with
 * live data when given. Nodes: every app placed in the environment, and every app they depend on. */
export function meshGraphInput(model: Model, envName: string, given: MeshGraphLive = {}): MeshGraphInput {
  const env = findEnvironment(model, envName);
  const live = withRegistrations(given, env);
  const apps = new Map(model.apps.map((a) => [a.name, a]));
  const placed = new Set(env.placements.map((p) => p.app));
  const names = new Set([...placed].flatMap((name) => [name, ...(apps.get(name)?.dependsOn ?? [])]));
  const sorted = [...names].sort(compareStrings);
  const policies = new Map(env.traffic.map((t) => [t.service, t]));
  const edges = sorted.flatMap((name) => (placed.has(name) ? edgesOf(apps.get(name), apps, policies) : []));
  const called = new Set(edges.map((e) => e.to));
  const idx = indexByApp(env, live);
  const nodes = sorted.map((name) => nodeOf(name, apps.get(name), idx, placed.has(name), called.has(name) ? [] : policyOf(name, apps.get(name), policies).policy));
  return { env: env.name, live: idx.live, controlPlane: env.mesh.controlPlane !== null, nodes, edges };
}

// Why only when the registry was read: an actual state without Consul (not enabled, unreachable) says nothing
// about the registry, and zero registered instances would read as "none running".
function withRegistrations(live: MeshGraphLive, env: EnvironmentModel): MeshGraphLive {
  if (!live.actual || live.registrations || !env.consul.enabled) return live;
  if (live.actual.unreachable.some((u) => u.runtime === registryRuntime())) return live;
  return { ...live, registrations: live.actual.resources.flatMap((r) => observedRegistrationOf(r) ?? []) };
}

function edgesOf(app: AppModel | undefined, apps: Map<string, AppModel>, policies: Map<string, TrafficPolicy>): MeshGraphEdge[] {
  if (!app) return [];
  const deps = [...new Set(app.dependsOn)].sort(compareStrings);
  return deps.map((to) => ({ from: app.name, to, ...policyOf(to, apps.get(to), policies) }));
}

/** The traffic policy of app `name`'s services (a policy is per service; an app's node carries all of them).
 * A line names its service unless the app has one policy, for a service of its own name. */
function policyOf(name: string, app: AppModel | undefined, policies: Map<string, TrafficPolicy>): { policy: string[]; detail: string[] } {
  const services = app ? app.services.map((s) => s.name).sort(compareStrings) : [name];
  const own = services.map((s) => policies.get(s)).filter((p): p is TrafficPolicy => p !== undefined);
  const prefix = (p: TrafficPolicy) => (own.length > 1 || p.service !== name ? `${p.service}: ` : "");
  return {
    policy: own.flatMap((p) => shortLines(p).map((l) => prefix(p) + l)),
    detail: own.flatMap((p) => fullLines(p).map((l) => prefix(p) + l)),
  };
}

/** The environment's placements and the live data, grouped by app once (a node reads only its own). */
interface ByApp {
  placements: Map<string, Placement[]>;
  registrations: Map<string, ObservedRegistration[]> | null;
  pods: Map<string, PodRegistration[]> | null;
  rows: Map<string, DriftRow[]>;
  live: boolean;
}

function indexByApp(env: EnvironmentModel, live: MeshGraphLive): ByApp {
  return {
    placements: group(env.placements, (p) => p.app),
    registrations: live.registrations ? group(live.registrations, (o) => o.registration.app) : null,
    pods: live.pods ? group(live.pods, (p) => p.app) : null,
    rows: group((live.report?.rows ?? []).filter((r) => r.app !== null), (r) => r.app!),
    live: live.report !== undefined || live.registrations !== undefined || live.pods !== undefined || live.actual !== undefined,
  };
}

function group<T>(list: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of list) {
    const k = key(t);
    const at = out.get(k);
    if (at) at.push(t);
    else out.set(k, [t]);
  }
  return out;
}

function nodeOf(name: string, app: AppModel | undefined, idx: ByApp, placed: boolean, policy: string[]): MeshGraphNode {
  const services = (app?.services ?? []).map((s) => ({ name: s.name, ports: s.ports.map((p) => `${p.protocol} ${p.targetPort}`) }));
  services.sort((a, b) => compareStrings(a.name, b.name));
  const placements = idx.placements.get(name) ?? [];
  const vmLive = idx.registrations ? (idx.registrations.get(name) ?? []) : null;
  const podLive = idx.pods ? (idx.pods.get(name) ?? []) : null;
  const vm: InstanceCount = vmLive
    ? { count: distinct(vmLive.map((o) => o.registration.host)), source: "registered" }
    : { count: placements.reduce((n, p) => n + (p.type === "hostGroup" ? p.hosts.length : 0), 0), source: "desired" };
  const pods: InstanceCount = podLive
    ? { count: distinct(podLive.map((p) => `${p.cluster}/${p.namespace}/${p.pod}`)), source: "registered" }
    : { count: placements.reduce((n, p) => n + (p.type === "cluster" ? p.container.replicas : 0), 0), source: "desired" };
  const seen: { state: NodeState; reason: string }[] = [];
  if (vmLive && vmLive.length > 0) seen.push(checks("Consul, VM instances", vmLive.map((o) => ({ id: o.registration.host, check: o.check }))));
  if (podLive && podLive.length > 0) seen.push(checks("Consul, pods", podLive.map((p) => ({ id: `${p.cluster}/${p.namespace}/${p.pod}`, check: p.check }))));
  for (const row of idx.rows.get(name) ?? []) seen.push({ state: ROW_STATE[row.health], reason: `${row.target}: ${row.health}${row.healthDetail ? ` (${row.healthDetail})` : ""}` });
  const state = seen.length === 0 ? "unknown" : NODE_STATES[Math.max(...seen.map((s) => NODE_STATES.indexOf(s.state)))]!;
  const reasons = seen.length === 0 ? [idx.live ? "nothing of it was seen live" : "config only: nothing live was read"] : seen.map((s) => s.reason);
  return { app: name, services, placed, vm, pods, state, reasons, policy };
}

/** A drift row's health as a node state. */
const ROW_STATE: Record<Health, NodeState> = { healthy: "passing", progressing: "warning", missing: "critical", degraded: "critical", unknown: "unknown" };

// An instance registered for several services (ports) counts once, with the worst of its checks.
function checks(source: string, list: { id: string; check: "passing" | "warning" | "critical" | undefined }[]): { state: NodeState; reason: string } {
  const byId = new Map<string, NodeState>();
  for (const { id, check } of list) {
    const s: NodeState = check ?? "unknown";
    const before = byId.get(id);
    if (before === undefined || NODE_STATES.indexOf(s) > NODE_STATES.indexOf(before)) byId.set(id, s);
  }
  const counts = NODE_STATES.map((s) => [s, [...byId.values()].filter((v) => v === s).length] as const).filter(([, n]) => n > 0);
  const state = counts.length === 0 ? "unknown" : counts[counts.length - 1]![0];
  return { state, reason: `${source}: ${counts.map(([s, n]) => `${n} ${s}`).join(", ")}` };
}

function distinct(values: string[]): number {
  return new Set(values).size;
}

const d = (ms: number): string => formatDuration(ms);

/** The policy parts as short edge lines. */
function shortLines(p: TrafficPolicy): string[] {
  const out: string[] = [];
  if (p.split.length > 0) out.push(p.split.map((w) => `${w.version} ${w.weight}%`).join(" / "));
  const calls = [p.timeoutMs !== null ? `timeout ${d(p.timeoutMs)}` : "", p.retries ? `retry ${p.retries.attempts}×${p.retries.perTryTimeoutMs !== null ? ` ${d(p.retries.perTryTimeoutMs)}/try` : ""}` : ""];
  if (calls.some(Boolean)) out.push(calls.filter(Boolean).join(" · "));
  const cb = p.circuitBreaker;
  if (cb) out.push(`max ${limits(cb)}`);
  if (p.outlierDetection) out.push(`eject after ${p.outlierDetection.consecutive5xx}×5xx`);
  if (p.rateLimit) out.push(`limit ${p.rateLimit.requests}/${d(p.rateLimit.intervalMs)}`);
  return out;
}

/** The policy parts in full, for tooltips. */
function fullLines(p: TrafficPolicy): string[] {
  const out: string[] = [];
  if (p.split.length > 0) out.push(`split: ${p.split.map((w) => `${w.version} ${w.weight}%`).join(", ")}`);
  if (p.timeoutMs !== null) out.push(`timeout ${d(p.timeoutMs)}`);
  const r = p.retries;
  if (r) out.push(`retries: ${r.attempts}${r.perTryTimeoutMs !== null ? `, ${d(r.perTryTimeoutMs)} per try` : ""}, on ${r.on.join(", ")}`);
  if (p.circuitBreaker) out.push(`circuit breaker: ${limits(p.circuitBreaker)}`);
  const o = p.outlierDetection;
  if (o) out.push(`outlier detection: eject after ${o.consecutive5xx} consecutive 5xx for ${d(o.ejectionTimeMs)}, every ${d(o.intervalMs)}, at most ${o.maxEjectionPercent}%`);
  const l = p.rateLimit;
  if (l) out.push(`rate limit: ${l.requests} per ${d(l.intervalMs)} per instance, burst ${l.burst}`);
  return out;
}

function limits(cb: NonNullable<TrafficPolicy["circuitBreaker"]>): string {
  const parts = [
    cb.maxConnections !== null ? `${cb.maxConnections} conn` : "",
    cb.maxPendingRequests !== null ? `${cb.maxPendingRequests} pending` : "",
    cb.maxRequests !== null ? `${cb.maxRequests} req` : "",
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(" / ") : "Envoy's defaults";
}
