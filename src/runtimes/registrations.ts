// The service registrations among the resources: those of the runtime that has registry hooks (`consul`).
import type { ActualResource, Registration, Resource, Runtime } from "../model/index.js";
import { hooksOf, RUNTIME_ORDER } from "./index.js";

/** Whether the resources of `runtime` are the environment's service registrations. */
export function holdsRegistrations(runtime: Runtime): boolean {
  return hooksOf(runtime).registry !== undefined;
}

/** The runtime whose resources are the registrations (a registry drift item without a resource is reported
 * in its row). Throws when no runtime in the list has registry hooks. */
export function registryRuntime(): Runtime {
  const runtime = RUNTIME_ORDER.find(holdsRegistrations);
  if (runtime === undefined) throw new Error("no runtime in src/runtimes/index.ts has registry hooks");
  return runtime;
}

/** The registration `resource` is, or null when it is not one. */
export function registrationOf(resource: Resource): Registration | null {
  return hooksOf(resource.runtime).registry?.registration(resource) ?? null;
}

/** The registration `actual` is, with the state its check was observed in; null when it is not one. */
export function observedRegistrationOf(actual: ActualResource): { registration: Registration; check: "passing" | "warning" | "critical" | undefined } | null {
  const hooks = hooksOf(actual.runtime).registry;
  return hooks ? { registration: hooks.registration(actual), check: hooks.check(actual) } : null;
}
