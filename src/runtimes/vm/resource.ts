// The vm runtime's resource: one app instance on one host, as state.json records it. The model's Resource
// union gains this member here, and Observed what is seen of it, by module augmentation.
import type { HostInstance } from "../../model/index.js";

declare module "../../model/resources.js" {
  interface RuntimeResources {
    vm: { app: string; instance: HostInstance };
  }

  interface Observed {
    /** vm: whether the app's process runs; `unknown` when it could not be read. */
    process?: "running" | "stopped" | "unknown";
    /** vm: what state.json leaves open about the app, so the plan redeploys it (or undeploys it when it is
     * not desired): `interrupted`, a deploy whose run died (the instance is the last good one, or the one
     * being deployed when there is none; the host may run either); `unrecorded`, the app runs but no record
     * names it (the instance holds only what the host shows). `detail` is the plan's wording. */
    record?: { state: "interrupted" | "unrecorded"; detail: string };
  }
}
