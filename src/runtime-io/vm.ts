// The vm runtime's I/O: the apps of a host, read from its probe (state.json and process liveness) and
// deployed, started and undeployed through its session (hosts/deploy.ts, lifecycle.ts, undeploy.ts).
import type { ActualResource, HostInstance, Observed } from "../model/index.js";
import type { HostRef } from "../ports/hosts.js";
import { hostTarget } from "../model/index.js";
import { vmKey } from "../runtimes/vm/render.js";
import type { HostPart } from "../hosts/part.js";
import type { HostProbe } from "../hosts/probe.js";
import { deploy, start, undeploy } from "../hosts/tasks.js";
import type { RuntimeIo } from "./types.js";

/** The vm runtime's part of the host reader and handler. */
export const vmHost: HostPart = {
  runtime: "vm",
  read: async (ctx, seen) => hostApps(ctx.env, ctx.ref, seen),
  tasks: {
    deploy: async (ctx, p, opts) => {
      ctx.log(`resolving package ${p.instance.app}@${p.instance.version}`);
      const packageFile = await opts.packages.file(p.instance);
      const onRefusedPackage = () => opts.packages.evict?.(p.instance);
      return deploy(ctx, p.instance, { packageFile, healthTimeoutMs: opts.healthTimeoutMs, reporter: opts.reporter, onRefusedPackage, secrets: opts.secrets });
    },
    start: (ctx, p) => start(ctx, p.app),
    undeploy: (ctx, p) => undeploy(ctx, p.app),
  },
};

/** Host apps are read and changed through the host's session. */
export const vmIo: RuntimeIo = { runtime: "vm", host: vmHost };

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
