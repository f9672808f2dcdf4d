// Comparing instances as recorded in state.json with the desired ones, independent of key order.
import { canonicalJson, type HostInstance } from "../model/index.js";

/** Whether two instances run the same way on the host: same package, start command, user, environment
 * and health check. When only other fields differ (ports, services, registrations, spec hash), the
 * record is updated and the process keeps running. */
export function sameRuntime(a: HostInstance, b: HostInstance): boolean {
  const runtime = (i: HostInstance) => canonicalJson([i.version, i.sha256, i.start, i.user, i.environment, i.health]);
  return runtime(a) === runtime(b);
}
