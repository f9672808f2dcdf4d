// Secrets of host instances: the values of the env vars named in `secretEnv`.
import type { HostInstance, Json } from "../../model/index.js";
import { redactDeep, vmSecretPredicate } from "../../compare/redact.js";
import type { SecretHooks } from "../types.js";

/** The vm runtime's secret hooks. */
export const vmSecrets: SecretHooks<"vm"> = {
  mask: (r) => ({ ...r, instance: redactDeep(r.instance as unknown as Json, [], vmSecretPredicate(r.instance.secretEnv)) as unknown as HostInstance }),
  values: (r) => r.instance.secretEnv.map((name) => r.instance.environment[name] ?? ""),
};
