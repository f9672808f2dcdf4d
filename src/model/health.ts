// Health values shared by the health rules (health/), the live-state readers and the report.

/** Health values from best to worst; `worst()` of several picks the commit-status state. */
export const HEALTH_ORDER = ["healthy", "progressing", "missing", "degraded", "unknown"] as const;
/** The health of one resource or of a group of them. */
export type Health = (typeof HEALTH_ORDER)[number];

/** A health verdict and why, in one line (`3/3 updated, 1 available`). */
export interface HealthResult {
  health: Health;
  message: string;
}

/** The worst of some health values (`healthy` for none): an app is as healthy as its sickest object. */
export function worst(values: Iterable<Health>): Health {
  let rank = 0;
  for (const v of values) rank = Math.max(rank, HEALTH_ORDER.indexOf(v));
  return HEALTH_ORDER[rank]!;
}
