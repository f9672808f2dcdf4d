// The capture resource kind: one host's capture rules, owned by the host rather than an app. The model's
// Resource union gains this member here, and Observed what is seen of it, by module augmentation.
import type { CaptureRules } from "../../model/index.js";

declare module "../../model/resources.js" {
  interface RuntimeResources {
    capture: { app: null; capture: CaptureRules };
  }

  interface Observed {
    /** capture: whether the host's live AMPHI_* chains and hooks equal the recorded rules (`drifted`: partly
     * there, edited, or other rules). Rules missing from the kernel leave no actual resource at all. */
    capture?: "present" | "drifted";
    /** capture: whether the recorded mesh-dns (`capture.dns`) runs; absent when the record has no `dns`. */
    meshDns?: "running" | "stopped";
  }
}
