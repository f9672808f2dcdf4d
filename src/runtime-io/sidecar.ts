// The sidecar resource kind's I/O: a host's Envoy, read back from `<baseDir>/sidecar/` (its record, whether it
// runs and answers) and installed or removed through the host's session (hosts/sidecar.ts).
import type { ActualResource } from "../model/index.js";
import { hostTarget } from "../model/index.js";
import type { HostPart } from "../hosts/part.js";
import { ensureSidecar, readSidecar, removeSidecar } from "../hosts/sidecar.js";
import { sidecarKey } from "../runtimes/sidecar/render.js";
import type { RuntimeIo } from "./types.js";

const SIDECAR_READY_MS = 30_000;

/** The sidecar kind's part of the host reader and handler. */
export const sidecarHost: HostPart = {
  runtime: "sidecar",
  read: async (ctx, probed) => {
    if (probed.sidecarDir === false) return []; // no <baseDir>/sidecar: no record to read there
    const seen = await readSidecar(ctx, probed);
    if (!seen) return [];
    const { group, host } = ctx.ref;
    const resource: ActualResource = { runtime: "sidecar", key: sidecarKey(group, host), app: null, target: hostTarget(group, host), sidecar: seen.sidecar, observed: { proxy: seen.ready ? "ready" : "down" } };
    return [resource];
  },
  tasks: {
    // Envoy is ready only once the control plane sent its listeners: at least 30 s, whatever the apps' health timeout.
    sidecar: (ctx, p, opts) => ensureSidecar(ctx, p.sidecar, { packages: opts.packages, healthTimeoutMs: Math.max(opts.healthTimeoutMs, SIDECAR_READY_MS) }),
    unsidecar: (ctx) => removeSidecar(ctx),
  },
};

/** A host's sidecar is read and changed through the host's session. */
export const sidecarIo: RuntimeIo = { runtime: "sidecar", host: sidecarHost };
