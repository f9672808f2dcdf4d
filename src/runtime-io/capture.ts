// The capture resource kind's I/O: a host's recorded capture rules, read back from the kernel (and mesh-dns's
// liveness) and applied or removed through its session (hosts/capture.ts, hosts/mesh-dns.ts).
import type { ActualResource, CaptureRules, Observed } from "../model/index.js";
import { hostTarget } from "../model/index.js";
import { probeCapture, type CaptureProbe } from "../hosts/capture.js";
import { applyCaptureWithDns, meshDnsRunning, removeCaptureWithDns } from "../hosts/mesh-dns.js";
import type { HostPart } from "../hosts/part.js";
import type { RuntimeIo } from "./types.js";

/** The capture kind's part of the host reader and handler. */
export const captureHost: HostPart = {
  runtime: "capture",
  /** The host's recorded capture: its live rules, and mesh-dns's liveness while rules redirect DNS to it (not
   * when they are missing: a create restarts it). */
  read: async (ctx, seen) => {
    const capture = seen.state.capture;
    if (!capture) return [];
    const { group, host } = ctx.ref;
    const live = await probeCapture(ctx.session, capture);
    const dnsRunning = capture.dns && live !== "missing" ? await meshDnsRunning(ctx) : true;
    const resource = captureResource(hostTarget(group, host), `capture/${group}/${host}`, capture, live, dnsRunning);
    return resource ? [resource] : [];
  },
  tasks: {
    // mesh-dns reads the catalog with the same Consul token as the health reporters (consul.tokenEnv)
    capture: (ctx, p, opts) => applyCaptureWithDns(ctx, p.rules, () => opts.reporter?.token ?? null),
    uncapture: (ctx) => removeCaptureWithDns(ctx),
  },
};

/** Capture rules are read and changed through the host's session. */
export const captureIo: RuntimeIo = { runtime: "capture", host: captureHost };

/** The actual capture resource of a host from what was read there: none when the rules are missing from the
 * kernel (a create puts them back); otherwise the record as it is, with what was seen in `observed`: the live
 * rules (`capture`: present or drifted) and, when the record has mesh-dns (`dns`), whether it runs (`meshDns`).
 * The diff makes each of them a field change, so the plan proposes the capture task, which rewrites the rules
 * and (re)starts mesh-dns. */
export function captureResource(target: string, key: string, capture: CaptureRules, live: CaptureProbe, dnsRunning: boolean): ActualResource | null {
  if (live === "missing") return null;
  const observed: Observed = { capture: live };
  if (capture.dns) observed.meshDns = dnsRunning ? "running" : "stopped";
  return { runtime: "capture", key, app: null, target, capture, observed };
}
