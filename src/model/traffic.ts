// Traffic policy: how the mesh sends calls to one service, per environment (`spec.traffic.<service>` in the
// environment file). The control plane turns it into Envoy routes and clusters; a change is a plan item, applied
// by an xDS push, never by a redeploy. Durations are milliseconds.

/** The conditions a retry is made on (Envoy's `retry_on` names). */
export const RETRY_ON = ["5xx", "gateway-error", "connect-failure", "reset", "retriable-status-codes", "unavailable", "cancelled", "deadline-exceeded", "resource-exhausted"] as const;
export type RetryOn = (typeof RETRY_ON)[number];

/** One version's share of a service's calls (gray release). */
export interface VersionWeight {
  version: string;
  /** Percent, 0–100; the weights of one split sum to 100. */
  weight: number;
}

/** Retries of a failed call. */
export interface RetryPolicy {
  /** Retries after the first try (Envoy's `num_retries`). */
  attempts: number;
  /** Timeout of each try, or null: the request timeout alone bounds them. */
  perTryTimeoutMs: number | null;
  on: RetryOn[];
}

/** Limits on what the calling side keeps open to the service (Envoy circuit-breaker thresholds); null: Envoy's default. */
export interface CircuitBreaker {
  maxConnections: number | null;
  maxPendingRequests: number | null;
  maxRequests: number | null;
}

/** Ejection of instances that keep failing (Envoy outlier detection). */
export interface OutlierDetection {
  /** Consecutive 5xx (or connect failures) that eject an instance. */
  consecutive5xx: number;
  /** How long an ejected instance stays out (grows with each ejection, as in Envoy). */
  ejectionTimeMs: number;
  /** How often ejections are evaluated. */
  intervalMs: number;
  /** At most this percent of the instances are ejected at once. */
  maxEjectionPercent: number;
}

/** A token bucket on the service's inbound side: each instance serves at most `requests` per `intervalMs`,
 * with bursts up to `burst`; beyond it calls get 429. */
export interface RateLimit {
  requests: number;
  intervalMs: number;
  burst: number;
}

/** The traffic policy of one service in one environment. Absent parts (empty split, nulls) mean the mesh's defaults:
 * every passing instance alike, Envoy's own timeouts, no retries, limits or ejection. */
export interface TrafficPolicy {
  service: string;
  /** Sorted by version; empty: calls go to every version alike. */
  split: VersionWeight[];
  /** Timeout of the whole request, or null. */
  timeoutMs: number | null;
  retries: RetryPolicy | null;
  circuitBreaker: CircuitBreaker | null;
  outlierDetection: OutlierDetection | null;
  rateLimit: RateLimit | null;
}
