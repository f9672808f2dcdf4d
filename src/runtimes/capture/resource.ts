// The capture resource kind: one host's capture rules, owned by the host rather than an app (the model's
// Resource union gains this member here, by module augmentation).
import type { CaptureRules } from "../../model/index.js";

declare module "../../model/resources.js" {
  interface RuntimeResources {
    capture: { app: null; capture: CaptureRules };
  }
}
