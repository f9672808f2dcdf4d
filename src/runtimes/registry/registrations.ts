// The registry runtime's resources are the environment's service registrations.
import type { RegistryHooks } from "../types.js";

/** The registry runtime's registry hooks. */
export const registrations: RegistryHooks<"consul"> = {
  registration: (r) => r.registration,
  check: (a) => a.observed?.check,
};
