// `spec.traffic` of a validated environment file → TrafficPolicy[] (sorted by service, durations in ms,
// Envoy's defaults filled in where a part is present). Cross-checks against apps and placements: rules-traffic.ts.
import { parseDuration } from "../model/duration.js";
import type { RetryOn, TrafficPolicy, VersionWeight } from "../model/index.js";
import { escapePointer } from "./positions.js";
import type { FileLocator } from "./problems.js";
import type { RawTrafficPolicy } from "./raw.js";

/** Defaults of the parts of a traffic policy, as documented in schemas/environment.schema.json (Envoy's own). */
export const TRAFFIC_DEFAULTS = {
  retryOn: ["5xx", "connect-failure"] as RetryOn[],
  consecutive5xx: 5,
  ejectionTime: "30s",
  interval: "10s",
  maxEjectionPercent: 10,
  ratePer: "1s",
} as const;

/** The environment's traffic policies, one per service named under `spec.traffic`, sorted by service. */
export function normalizeTraffic(traffic: Record<string, RawTrafficPolicy> | undefined, loc: FileLocator): TrafficPolicy[] {
  return Object.entries(traffic ?? {})
    .map(([service, raw]) => normalizePolicy(service, raw, `/spec/traffic/${escapePointer(service)}`, loc))
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
}

function normalizePolicy(service: string, raw: RawTrafficPolicy, ptr: string, loc: FileLocator): TrafficPolicy {
  const r = raw.retries;
  const c = raw.circuitBreaker;
  const o = raw.outlierDetection;
  const l = raw.rateLimit;
  return {
    service,
    split: normalizeSplit(raw.split, `${ptr}/split`, loc),
    timeoutMs: ms(raw.timeout),
    retries: r ? { attempts: r.attempts, perTryTimeoutMs: ms(r.perTryTimeout), on: [...new Set(r.on ?? TRAFFIC_DEFAULTS.retryOn)] } : null,
    circuitBreaker: c ? { maxConnections: c.maxConnections ?? null, maxPendingRequests: c.maxPendingRequests ?? null, maxRequests: c.maxRequests ?? null } : null,
    outlierDetection: o
      ? {
          consecutive5xx: o.consecutive5xx ?? TRAFFIC_DEFAULTS.consecutive5xx,
          ejectionTimeMs: ms(o.ejectionTime ?? TRAFFIC_DEFAULTS.ejectionTime)!,
          intervalMs: ms(o.interval ?? TRAFFIC_DEFAULTS.interval)!,
          maxEjectionPercent: o.maxEjectionPercent ?? TRAFFIC_DEFAULTS.maxEjectionPercent,
        }
      : null,
    rateLimit: l ? { requests: l.requests, intervalMs: ms(l.per ?? TRAFFIC_DEFAULTS.ratePer)!, burst: l.burst ?? l.requests } : null,
  };
}

/** Version → weight, versions as written in the file (a YAML key `1.0` is the version `1.0`, not `1`), sorted
 * by version with numbers compared as numbers (`2.9.0` before `2.10.0`). */
function normalizeSplit(split: Record<string, number> | undefined, ptr: string, loc: FileLocator): VersionWeight[] {
  if (!split) return [];
  // Only a key that reads as a number may have been written otherwise; the position map is built only then.
  let written: string[] | null = null;
  const asWritten = (key: string) => (key.trim() === "" || Number.isNaN(Number(key)) ? key : writtenKey(key, (written ??= loc.positions.keysOf(ptr))));
  return Object.entries(split)
    .map(([key, weight]) => ({ version: asWritten(key), weight }))
    .sort((a, b) => compareVersions(a.version, b.version));
}

/** The key as written for a parsed key: itself, or the plain number it was parsed from (`1.0` for `1`). */
function writtenKey(key: string, written: string[]): string {
  if (written.includes(key)) return key;
  return written.find((w) => w.trim() !== "" && String(Number(w)) === key) ?? key;
}

/** Orders versions with their numeric parts compared as numbers; ties broken by plain comparison. */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true }) || (a < b ? -1 : a > b ? 1 : 0);
}

function ms(duration: string | undefined): number | null {
  return duration === undefined ? null : parseDuration(duration);
}
