// Traffic policy against the apps placed in the environment: policies name placed services, splits name running
// versions and sum to 100, per-try timeouts fit the timeout; and tcp services, which share the one mesh IP, each
// have a port of their own.
import { placementVersion, type AppModel, type EnvironmentModel, type Problem, type TrafficPolicy } from "../model/index.js";
import type { AppIndex } from "./placements.js";
import { escapePointer } from "./positions.js";
import type { FileLocator } from "./problems.js";
import { didYouMean } from "./suggest.js";

/** Envoy's shortest token-bucket refill interval. */
export const MIN_RATE_INTERVAL_MS = 50;

/** Checks every policy of one environment whose placements are resolved. `written` is the app of every placement
 * as written, resolved or not: a placement with its own error (reported already) still places its app, but what
 * version it runs is unknown, so the split of that app's services is not checked. */
export function checkTraffic(env: EnvironmentModel, written: string[], apps: AppIndex, loc: FileLocator): Problem[] {
  const owner = new Map([...apps.valid.values()].flatMap((a) => a.services.map((s) => [s.name, a] as const)));
  const placed = new Set(written);
  const count = (list: string[], app: string) => list.filter((a) => a === app).length;
  // Services of an app whose own file has errors are unknown here; that file's errors are reported already.
  const allKnown = [...apps.names].every((n) => apps.valid.has(n));
  const out: Problem[] = [];
  for (const policy of env.traffic) {
    const ptr = `/spec/traffic/${escapePointer(policy.service)}`;
    const app = owner.get(policy.service);
    if (!app || !placed.has(app.name)) {
      if (app || allKnown) out.push(unknownService(policy.service, app, placed, owner, ptr, loc));
      continue;
    }
    const resolved = count(written, app.name) === count(env.placements.map((p) => p.app), app.name);
    out.push(...(resolved ? checkSplit(policy, app, env, ptr, loc) : []), ...checkTimeouts(policy, ptr, loc));
  }
  return out;
}

function unknownService(service: string, app: AppModel | undefined, placed: Set<string>, owner: Map<string, AppModel>, ptr: string, loc: FileLocator): Problem {
  const candidates = [...owner].filter(([, a]) => placed.has(a.name)).map(([s]) => s).sort();
  const hint = didYouMean(service, candidates) ?? `services placed here: ${candidates.join(", ") || "none"}`;
  const message = app
    ? `traffic policy for service "${service}" of app "${app.name}", which is not placed in this environment`
    : `traffic policy for unknown service "${service}"`;
  return loc.problem(ptr, message, { at: "key", hint });
}

/** Weights sum to 100; every version runs on some placement of the service's app in this environment. */
function checkSplit(policy: TrafficPolicy, app: AppModel, env: EnvironmentModel, ptr: string, loc: FileLocator): Problem[] {
  if (policy.split.length === 0) return [];
  const out: Problem[] = [];
  const sum = policy.split.reduce((n, v) => n + v.weight, 0);
  if (sum !== 100) {
    const shares = policy.split.map((v) => `${v.version}: ${v.weight}`).join(", ");
    out.push(loc.problem(`${ptr}/split`, `the weights of service "${policy.service}" sum to ${sum}, not 100 (${shares})`, { at: "key" }));
  }
  const running = runningVersions(app, env);
  for (const v of policy.split) {
    if (running.has(v.version)) continue;
    const where = [...running].map(([version, at]) => `${version} (${at.join(", ")})`).join(", ");
    const idle = env.placements.filter((p) => p.app === app.name && p.type === "cluster" && p.container.replicas === 0 && placementVersion(p) === v.version);
    const scaled = idle.map((p) => `; /spec/placements/${p.index} has it at 0 replicas`).join("");
    const hint = `${where ? `placements of app "${app.name}" run ${where}` : "no placement of it runs an instance"}${scaled}`;
    out.push(loc.problem(`${ptr}/split/${escapePointer(v.version)}`, `version "${v.version}" of service "${policy.service}" runs on no placement of app "${app.name}" in this environment`, { at: "key", hint }));
  }
  return out;
}

/** The versions the app's placements in this environment run → where (`/spec/placements/<i>`). A cluster
 * placement scaled to 0 replicas runs nothing. */
function runningVersions(app: AppModel, env: EnvironmentModel): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of env.placements) {
    if (p.app !== app.name || (p.type === "cluster" && p.container.replicas === 0)) continue;
    const v = placementVersion(p);
    out.set(v, [...(out.get(v) ?? []), `/spec/placements/${p.index}`]);
  }
  return out;
}

function checkTimeouts(policy: TrafficPolicy, ptr: string, loc: FileLocator): Problem[] {
  const out: Problem[] = [];
  const perTry = policy.retries?.perTryTimeoutMs ?? null;
  if (perTry !== null && policy.timeoutMs !== null && perTry > policy.timeoutMs) {
    const hint = "the timeout bounds all tries together and cuts this one short: lower perTryTimeout or raise timeout";
    out.push(loc.warning(`${ptr}/retries/perTryTimeout`, `the per-try timeout of service "${policy.service}" is longer than its timeout`, { hint }));
  }
  if (policy.rateLimit && policy.rateLimit.intervalMs < MIN_RATE_INTERVAL_MS) {
    out.push(loc.problem(`${ptr}/rateLimit/per`, `the rate limit interval must be at least ${MIN_RATE_INTERVAL_MS}ms`, { hint: "Envoy refills a token bucket at most every 50ms" }));
  }
  return out;
}

/** A `tcp` service of an app placed in this environment on the targetPort of another service (tcp, http or grpc):
 * the mesh tells tcp services apart by port alone (every service shares the one mesh IP, and a port's outbound
 * chain is either a tcp proxy or Host routing), so the later one is an error at its app's first placement. */
export function checkTcpPorts(env: EnvironmentModel, apps: Map<string, AppModel>, loc: FileLocator): Problem[] {
  const first = new Map<number, { service: string; app: string; protocol: string }>();
  const hostsOf = new Map<string, Set<string>>();
  for (const p of env.placements) {
    if (p.type !== "hostGroup") continue;
    const hosts = hostsOf.get(p.app) ?? new Set<string>();
    for (const h of p.hosts) hosts.add(`${p.hostGroup}/${h}`);
    hostsOf.set(p.app, hosts);
  }
  const seenApps = new Set<string>();
  const out: Problem[] = [];
  for (const p of env.placements) {
    const app = apps.get(p.app);
    if (!app || seenApps.has(app.name)) continue;
    seenApps.add(app.name);
    for (const s of app.services) {
      for (const { targetPort: port, protocol } of s.ports) {
        const prev = first.get(port);
        if (!prev) {
          first.set(port, { service: s.name, app: app.name, protocol });
          continue;
        }
        // http and grpc services share a port by name (Host routing); a tcp one shares it with nobody. One app's
        // ports, and two apps on one host, are reported already (rules-ports.ts, the host port check).
        if (protocol !== "tcp" && prev.protocol !== "tcp") continue;
        if (prev.app === app.name || shareAHost(hostsOf, prev.app, app.name)) continue;
        const message = `${protocol} port ${port} of service "${s.name}" (app "${app.name}") is also the ${prev.protocol} port of service "${prev.service}" (app "${prev.app}")`;
        const hint = `every service shares the mesh IP ${env.mesh.serviceIP}, so tcp services are told apart by port alone: give one of them another targetPort`;
        out.push(loc.problem(`/spec/placements/${p.index}`, message, { at: "node", hint }));
      }
    }
  }
  return out;
}

function shareAHost(hostsOf: Map<string, Set<string>>, a: string, b: string): boolean {
  const other = hostsOf.get(b);
  return [...(hostsOf.get(a) ?? [])].some((h) => other?.has(h) ?? false);
}
