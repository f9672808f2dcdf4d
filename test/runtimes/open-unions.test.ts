// The model names no runtime: each runtime folder adds its resource and its task payloads to the model's
// open interfaces (module augmentation), and the runtime list gives the apply order. These checks fail
// type-checking (`npx tsc -p tsconfig.json`) when a folder's augmentation is not picked up.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Resource, Runtime, TaskKind } from "../../src/model/index.js";
import { RUNTIME_ORDER } from "../../src/runtimes/index.js";
import type { TaskPayload } from "../../src/runtimes/tasks.js";

/** `true` only when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** `true` when every member of A is one of B (a new runtime folder adds members without breaking these). */
type Within<A, B> = [A] extends [B] ? true : false;

const runtimes: Within<"k8s" | "vm" | "capture" | "consul", Runtime> = true;
const kinds: Within<"deploy" | "start" | "undeploy" | "capture" | "uncapture" | "k8s-apply" | "k8s-delete" | "register" | "deregister", TaskKind> = true;
const payloadKinds: Equal<TaskPayload["kind"], TaskKind> = true;
const hostApp: Equal<Extract<Resource, { runtime: "capture" }>["app"], null> = true;

/** What a resource holds, by narrowing on its runtime (each branch reads only its own runtime's field). */
function payloadOf(r: Resource): string {
  if (r.runtime === "k8s") return r.object.kind;
  if (r.runtime === "vm") return r.instance.version;
  if (r.runtime === "capture") return r.capture.host;
  if (r.runtime === "consul") return r.registration.id;
  return (r as Resource).key; // a runtime added later
}

test("the runtimes, task kinds and resources come from the runtime folders; apply order from the list", () => {
  assert.deepEqual([runtimes, kinds, payloadKinds, hostApp], [true, true, true, true]);
  assert.deepEqual(RUNTIME_ORDER.slice(0, 5), ["k8s", "vm", "sidecar", "capture", "consul"]);
  const r: Resource = { runtime: "consul", key: "consul/user/u-1", app: "user", target: "legacy/vm-2", registration: { id: "u-1" } as never };
  assert.equal(payloadOf(r), "u-1");
});
