// The vm runtime's resource: one app instance on one host, as state.json records it (the model's
// Resource union gains this member here, by module augmentation).
import type { HostInstance } from "../../model/index.js";

declare module "../../model/resources.js" {
  interface RuntimeResources {
    vm: { app: string; instance: HostInstance };
  }
}
