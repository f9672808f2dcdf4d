// Comparing instances as recorded in state.json with the desired ones, independent of key order.
import type { HostInstance } from "../model/index.js";

/** JSON with object keys sorted at every level: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, sortKeys(obj[k])]));
}

/** Whether two instances run the same way on the host: same package, start command, user, environment
 * and health check. When only other fields differ (ports, services, registrations, spec hash), the
 * record is updated and the process keeps running. */
export function sameRuntime(a: HostInstance, b: HostInstance): boolean {
  const runtime = (i: HostInstance) => canonicalJson([i.version, i.sha256, i.start, i.user, i.environment, i.health]);
  return runtime(a) === runtime(b);
}
