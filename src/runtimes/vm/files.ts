// How `amphi render --out` writes host instances: the `instances` of their host group's file, secrets redacted.
// Why redact: nothing runs hosts from these files (host tasks get their instance from render in memory), while
// rendered output is often committed to a manifests repo or kept as a CI artifact. A secret must not leak there.
import { hostGroupOf } from "../../model/index.js";
import type { FilesHooks } from "../types.js";
import { vmSecrets } from "./secrets.js";

/** The vm files hook: one entry of `instances` per instance, in `hostgroups/<group>.yaml`, masked as in plans. */
export const vmFiles: FilesHooks<"vm"> = {
  layout: "hostgroups",
  file: (r) => hostGroupOf(r.target),
  section: "instances",
  entry: (r) => vmSecrets.mask(r).instance,
};
