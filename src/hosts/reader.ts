// The VM runtime's live-state reader: each host is probed through its session (state.json, process liveness,
// capture rules and mesh-dns); a host that cannot be read (unreachable, or claimed by another environment:
// hosts/claim.ts) is reported unreachable, never as empty.
import type { ActualResource, CaptureRules, EnvironmentModel, HostInstance, Observed } from "../model/index.js";
import type { ActualRead, ActualReader } from "../ports/actual.js";
import type { HostConnector, HostRef, HostSession } from "../ports/hosts.js";
import { hostTarget } from "../model/index.js";
import { vmKey } from "../runtimes/vm/render.js";
import { probe, type HostProbe } from "./probe.js";
import { probeCapture, type CaptureProbe } from "./capture.js";
import { meshDnsRunning } from "./mesh-dns.js";

/** What reading hosts needs. */
export interface HostsReaderDeps {
  connector: HostConnector;
  hosts: Map<string, HostRef>;
  now(): string;
  /** Bound on hosts probed at once. */
  parallel: number;
  /** Where a host's warnings go (a state.json recovered from its backup); default: dropped. */
  warn?(line: string): void;
}

/** Reads the environment's hosts, up to `parallel` at once. */
export class HostsReader implements ActualReader {
  constructor(private readonly deps: HostsReaderDeps) {}

  async read(env: EnvironmentModel, signal?: AbortSignal): Promise<ActualRead> {
    const deps = this.deps;
    const out: ActualRead = { resources: [], unreachable: [] };
    const refs = [...deps.hosts.values()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < refs.length) {
        const ref = refs[next++]!;
        try {
          out.resources.push(...(await readHost(env, ref, deps, signal)));
        } catch (e) {
          out.unreachable.push({ runtime: "vm", target: hostTarget(ref.group, ref.host), reason: (e as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(Math.max(1, deps.parallel), refs.length) }, worker));
    return out;
  }
}

async function readHost(env: EnvironmentModel, ref: HostRef, deps: HostsReaderDeps, signal: AbortSignal | undefined): Promise<ActualResource[]> {
  const session = await deps.connector.open(ref, signal);
  const seen = await probe({ session, env: env.name, now: deps.now, log: (l) => deps.warn?.(l), signal });
  const target = hostTarget(ref.group, ref.host);
  // Another environment's record on this host fails the probe (hosts/claim.ts): the target is unreachable.
  const out = hostApps(env.name, ref, seen);
  const capture = seen.state.capture;
  if (capture) {
    const resource = await readCapture(session, env.name, target, `capture/${ref.group}/${ref.host}`, capture, deps, signal);
    if (resource) out.push(resource);
  }
  return out;
}

/** Reads a host's recorded capture: its live rules, and mesh-dns's liveness while rules redirect DNS to it
 * (not when they are missing: a create restarts it). */
async function readCapture(session: HostSession, env: string, target: string, key: string, capture: CaptureRules, deps: HostsReaderDeps, signal: AbortSignal | undefined): Promise<ActualResource | null> {
  const live = await probeCapture(session, capture);
  const ctx = { session, env, now: deps.now, log: () => {}, signal };
  const dnsRunning = capture.dns && live !== "missing" ? await meshDnsRunning(ctx) : true;
  return captureResource(target, key, capture, live, dnsRunning);
}

/** The apps of one host as actual resources: each recorded app, each deploy under way whose run died (shown
 * as interrupted, with its last good instance), and each app directory whose process runs with no record
 * at all (a kill before the record existed, a lost state.json): amphi put it there, so it is amphi's to
 * redeploy or to remove, never something that runs unseen. */
export function hostApps(envName: string, ref: HostRef, seen: HostProbe): ActualResource[] {
  const target = hostTarget(ref.group, ref.host);
  const { apps } = seen.state;
  const pending = seen.state.pending ?? {};
  const out: ActualResource[] = [];
  for (const app of [...new Set([...Object.keys(apps), ...Object.keys(pending)])].sort()) {
    const rec = apps[app];
    const p = pending[app];
    const observed: Observed = { process: seen.processes[app] ?? "unknown" };
    // one word, so the plan's one-line field change shows it whole: `record interrupted-deploy(2.5.0-03517cac)→recorded`
    if (p) observed.record = { state: "interrupted", detail: `interrupted-deploy(${p.release})` };
    out.push({ runtime: "vm", key: vmKey(ref.group, ref.host, app), app, target, instance: rec?.instance ?? p!.instance, observed });
  }
  for (const [app, proc] of Object.entries(seen.processes)) {
    if (proc !== "running" || apps[app] || pending[app]) continue;
    const release = seen.current[app] ?? "";
    const detail = `running-unrecorded(${release || "no current release"})`;
    const instance = unrecordedInstance(envName, ref, app, release);
    out.push({ runtime: "vm", key: vmKey(ref.group, ref.host, app), app, target, instance, observed: { process: "running", record: { state: "unrecorded", detail } } });
  }
  return out;
}

/** What the host shows of an app it runs without a record: the version from the release directory's name. */
function unrecordedInstance(env: string, ref: HostRef, app: string, release: string): HostInstance {
  const version = /^(.+)-[0-9a-f]{8}$/.exec(release)?.[1] ?? release;
  return {
    app,
    env,
    hostGroup: ref.group,
    host: ref.host,
    address: ref.address,
    baseDir: ref.baseDir,
    version,
    package: { path: "" },
    sha256: "",
    start: "",
    user: null,
    environment: {},
    secretEnv: [],
    ports: [],
    health: null,
    services: [],
    specHash: "",
    registrations: [],
  };
}

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
