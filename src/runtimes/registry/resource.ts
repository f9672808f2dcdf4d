// The registry runtime's resource (`consul`): one Consul agent service registration of a host instance.
// The model's Resource union gains this member here, and Observed what is seen of it, by module augmentation.
import type { Registration } from "../../model/index.js";

declare module "../../model/resources.js" {
  interface RuntimeResources {
    consul: { app: string; registration: Registration };
  }

  interface Observed {
    /** consul: health of the TTL check. */
    check?: "passing" | "warning" | "critical";
  }
}
