import type { CaptureRules } from "../../model/index.js";

/** Payloads of the capture tasks. */
export type CapturePayload = { kind: "capture"; rules: CaptureRules } | { kind: "uncapture" };

declare module "../../model/run.js" {
  interface RuntimeTaskPayloads {
    capture: CapturePayload;
  }
}
