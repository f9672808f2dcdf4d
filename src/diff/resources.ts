// Comparison of one desired resource with its actual counterpart. Each runtime's compare rules (which
// fields count, which are ignored, which are secret, what observed state adds) live in its folder under
// src/runtimes/; this dispatches through their list.
import type { ActualResource, FieldChange, IgnoreRule, Resource } from "../model/index.js";
import { hooksOf } from "../runtimes/index.js";

/** The fields in which `actual` differs from `desired` (same key). Empty means unchanged. */
export function compareResource(desired: Resource, actual: ActualResource, ignore: readonly IgnoreRule[]): FieldChange[] {
  // The same object on both sides (an --actual file's entry whose text was its desired resource's JSON, see
  // diff/actual-file.ts): no runtime finds a field in which a resource differs from itself (test/diff/diff.test.ts).
  if ((actual as unknown) === desired) return [];
  if (desired.runtime !== actual.runtime) return [{ path: "runtime", from: actual.runtime, to: desired.runtime }];
  return hooksOf(desired.runtime).compare(desired, actual, ignore);
}
