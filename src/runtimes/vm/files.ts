// How `amphi render --out` writes host instances: the `instances` of their host group's file, secrets redacted.
import { hostGroupOf, type HostInstance } from "../../model/index.js";
import type { FilesHooks } from "../types.js";

/** What the value of a secret env var is replaced by in host-group files (as in plans). */
export const REDACTED_VALUE = "(secret)";

/** The vm files hook: one entry of `instances` per instance, in `hostgroups/<group>.yaml`. */
export const vmFiles: FilesHooks<"vm"> = {
  layout: "hostgroups",
  file: (r) => hostGroupOf(r.target),
  section: "instances",
  entry: (r) => redactSecrets(r.instance),
};

// Why redact: nothing runs hosts from these files (host tasks get their instance from render in memory), while
// rendered output is often committed to a manifests repo or kept as a CI artifact. A secret must not leak there.
function redactSecrets(instance: HostInstance): HostInstance {
  const secret = new Set(instance.secretEnv);
  const environment = Object.fromEntries(
    Object.entries(instance.environment).map(([name, value]) => [name, secret.has(name) ? REDACTED_VALUE : value]),
  );
  return { ...instance, environment };
}
