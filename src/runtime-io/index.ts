// The I/O side of every runtime, one entry each (the pure side is src/runtimes/index.ts): how its live state
// is read and its tasks run. Only the composition root (src/cli) imports this list; adding a runtime adds
// its file here and one line below.
import type { HostPart } from "../hosts/part.js";
import { captureIo } from "./capture.js";
import { k8sIo } from "./k8s.js";
import { meshIo } from "./mesh.js";
import { registryIo } from "./registry.js";
import { sidecarIo } from "./sidecar.js";
import type { RuntimeIo } from "./types.js";
import { vmIo } from "./vm.js";

export type { ApplyOptions, HostRuntimeIo, IoContext, OwnRuntimeIo, RuntimeIo } from "./types.js";

/** Every runtime's I/O. Readers are started in this order and run at once (readActual sorts what they
 * read); on each host, the host runtimes' parts read in this order. */
export const RUNTIME_IO: readonly RuntimeIo[] = [vmIo, sidecarIo, captureIo, k8sIo, registryIo, meshIo];

/** The parts of the runtimes on hosts, in list order. */
export function hostParts(list: readonly RuntimeIo[] = RUNTIME_IO): HostPart[] {
  return list.flatMap((io) => ("host" in io ? [io.host] : []));
}
