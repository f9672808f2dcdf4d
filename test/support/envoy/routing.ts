// HTTP routing of the Envoy test double, pure: the virtual host for a Host/`:authority` (Envoy's order: exact
// domain, then the longest suffix wildcard `*.x`, then the longest prefix wildcard `x.*`, then `*`), the route by
// path prefix, the cluster of a route action (one, or weighted at random), and the retry policy and timeouts.
import { durationMs, unwrap } from "./shape.js";

/** A route action's effect on one request. */
export interface RoutePlan {
  cluster: string;
  /** Whole-request timeout (0: none; Envoy's default 15 s). */
  timeoutMs: number;
  retry: { on: Set<string>; retries: number; perTryMs: number } | null;
}

/** The virtual host of a route configuration for an authority, or null. */
export function virtualHost(config: Record<string, any>, authority: string): Record<string, any> | null {
  const host = authority.toLowerCase();
  const vhosts: Record<string, any>[] = config.virtual_hosts ?? [];
  const all = vhosts.flatMap((v) => ((v.domains ?? []) as string[]).map((d) => ({ d: d.toLowerCase(), v })));
  const exact = all.find((x) => x.d === host);
  if (exact) return exact.v;
  const longest = (xs: { d: string; v: any }[]) => xs.sort((a, b) => b.d.length - a.d.length)[0]?.v ?? null;
  const suffix = longest(all.filter((x) => x.d.startsWith("*") && x.d !== "*" && host.endsWith(x.d.slice(1)) && host.length > x.d.length - 1));
  if (suffix) return suffix;
  const prefix = longest(all.filter((x) => x.d.endsWith("*") && x.d !== "*" && host.startsWith(x.d.slice(0, -1)) && host.length > x.d.length - 1));
  if (prefix) return prefix;
  return all.find((x) => x.d === "*")?.v ?? null;
}

/** The first route of a virtual host whose prefix the path starts with, or null. */
export function matchRoute(vhost: Record<string, any>, path: string): Record<string, any> | null {
  return ((vhost.routes ?? []) as Record<string, any>[]).find((r) => path.startsWith(String(r.match?.prefix ?? ""))) ?? null;
}

/** What a route action says for one request; `random` in [0, 1) picks among weighted clusters. */
export function planRoute(action: Record<string, any>, random: number): RoutePlan | null {
  let cluster: string | null = action.cluster ?? null;
  const weighted: Record<string, any>[] | undefined = action.weighted_clusters?.clusters;
  if (weighted && weighted.length > 0) {
    const total = unwrap(action.weighted_clusters.total_weight, weighted.reduce((n, c) => n + unwrap(c.weight, 0), 0));
    let pick = random * total;
    cluster = null;
    for (const c of weighted) {
      pick -= unwrap(c.weight, 0);
      if (pick < 0) {
        cluster = String(c.name);
        break;
      }
    }
  }
  if (cluster === null) return null;
  const rp = action.retry_policy;
  const retry = rp
    ? { on: new Set(String(rp.retry_on ?? "").split(",").map((s) => s.trim()).filter(Boolean)), retries: unwrap(rp.num_retries, 1), perTryMs: durationMs(rp.per_try_timeout) ?? 0 }
    : null;
  return { cluster, timeoutMs: action.timeout === undefined ? 15_000 : (durationMs(action.timeout) ?? 15_000), retry };
}

/** The outcome of one try, as retry conditions see it. */
export type TryOutcome = { status: number; grpcStatus: number | null } | { failure: "connect-failure" | "reset" | "timeout" | "overflow" };

const GRPC_CODES: Record<string, number> = { cancelled: 1, "deadline-exceeded": 4, "resource-exhausted": 8, internal: 13, unavailable: 14 };

/** Whether `retry_on` retries this outcome (Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on conditions). */
export function retriable(on: Set<string>, o: TryOutcome): boolean {
  if ("failure" in o) {
    if (o.failure === "overflow") return false;
    if (on.has("5xx") || on.has("gateway-error")) return true;
    if (o.failure === "connect-failure") return on.has("connect-failure") || on.has("reset");
    return on.has("reset");
  }
  if (on.has("5xx") && o.status >= 500) return true;
  if (on.has("gateway-error") && [502, 503, 504].includes(o.status)) return true;
  if (on.has("retriable-4xx") && o.status === 409) return true;
  if (o.grpcStatus !== null) return Object.entries(GRPC_CODES).some(([name, code]) => on.has(name) && code === o.grpcStatus);
  return false;
}
