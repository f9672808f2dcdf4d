// How a plan reads a traffic-policy change: one field per setting, in the words of the environment file
// (`split 2.3.0:100→2.3.0:90,2.4.0:10`, `timeout 2s→3s`, `retries.attempts 2→3`); an absent part is `(none)`.
import type { FieldChange, Json, TrafficPolicy } from "../../model/index.js";
import { formatDuration } from "../../model/duration.js";

/** The settings of a policy as the plan names them (null: not set, the mesh's default). */
export function policyView(p: TrafficPolicy): Record<string, Json> {
  const d = (ms: number | null): Json => (ms === null ? null : formatDuration(ms));
  const r = p.retries;
  const c = p.circuitBreaker;
  const o = p.outlierDetection;
  const l = p.rateLimit;
  return {
    split: p.split.length > 0 ? p.split.map((w) => `${w.version}:${w.weight}`).join(",") : null,
    timeout: d(p.timeoutMs),
    "retries.attempts": r ? r.attempts : null,
    "retries.perTryTimeout": r ? d(r.perTryTimeoutMs) : null,
    "retries.on": r ? r.on.join(",") : null,
    "circuitBreaker.maxConnections": c ? c.maxConnections : null,
    "circuitBreaker.maxPendingRequests": c ? c.maxPendingRequests : null,
    "circuitBreaker.maxRequests": c ? c.maxRequests : null,
    "outlierDetection.consecutive5xx": o ? o.consecutive5xx : null,
    "outlierDetection.ejectionTime": o ? d(o.ejectionTimeMs) : null,
    "outlierDetection.interval": o ? d(o.intervalMs) : null,
    "outlierDetection.maxEjectionPercent": o ? o.maxEjectionPercent : null,
    "rateLimit.requests": l ? l.requests : null,
    "rateLimit.per": l ? d(l.intervalMs) : null,
    "rateLimit.burst": l ? l.burst : null,
  };
}

/** The settings in which the applied policy differs from the desired one, in view order. */
export function comparePolicies(desired: TrafficPolicy, actual: TrafficPolicy): FieldChange[] {
  const [to, from] = [policyView(desired), policyView(actual)];
  const out: FieldChange[] = [];
  for (const path of Object.keys(to)) {
    if (JSON.stringify(to[path]) !== JSON.stringify(from[path])) out.push({ path, from: from[path] ?? undefined, to: to[path] ?? undefined });
  }
  return out;
}
