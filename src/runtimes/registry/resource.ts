// The registry runtime's resource (`consul`): one Consul agent service registration of a host instance
// (the model's Resource union gains this member here, by module augmentation).
import type { Registration } from "../../model/index.js";

declare module "../../model/resources.js" {
  interface RuntimeResources {
    consul: { app: string; registration: Registration };
  }
}
