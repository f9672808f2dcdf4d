// The mesh runtime's I/O: the environment's applied mesh policy (ports/mesh.ts), which the xDS control plane serves.
// Reading it is reading what the proxies are told; recording a new one is the apply (the control plane watches the
// store and pushes within a second), so no proxy or app is redeployed. Next to it, the proxies the control-plane
// replicas published (connected or not, ACKed and NACKed versions): observed state for drift, never a plan step.
import { mergeProxies, type ActualResource, type EnvironmentModel, type ObservedProxy, type TaskRecord } from "../model/index.js";
import type { ActualRead, ActualReader } from "../ports/actual.js";
import { PROXY_RECORD_STALE_MS, type AppliedMesh, type MeshPolicyStore, type ProxyStatusRecord, type ProxyStatusStore } from "../ports/mesh.js";
import type { TaskHandler, TaskOutcome, TaskRunContext } from "../ports/tasks.js";
import type { TaskSpec } from "../plan/tasks.js";
import { meshPolicyStoreFor, proxyStatusStoreFor } from "../adapters/state/mesh-store.js";
import { MESH_TARGET, meshKey } from "../runtimes/mesh/index.js";
import type { RuntimeIo } from "./types.js";

/** Reads the policies applied last (what the control plane serves); records new ones. */
export const meshIo: RuntimeIo = {
  runtime: "mesh",
  reader: (ctx) => new MeshPolicyReader(meshPolicyStoreFor(ctx.env, ctx), proxyStatusStoreFor(ctx.env, ctx), Date.now, (l) => ctx.warn?.(l)),
  handler: (ctx) => new MeshPolicyHandler(meshPolicyStoreFor(ctx.env, ctx), ctx.env.name, ctx.revision),
};

/** The proxies of the records of live replicas (heartbeat within PROXY_RECORD_STALE_MS of `now`), one per node id. */
export function liveProxies(records: readonly ProxyStatusRecord[], now: number): ObservedProxy[] {
  return mergeProxies(records.filter((r) => now - Date.parse(r.heartbeatAt) <= PROXY_RECORD_STALE_MS).map((r) => r.proxies));
}

/** The applied policies as actual resources, and the proxies live replicas published; a store that cannot be
 * read is one unreachable target (an unreadable proxy-status store hides no policy: its proxies are unknown). */
export class MeshPolicyReader implements ActualReader {
  constructor(
    private readonly store: MeshPolicyStore,
    private readonly proxyStore: ProxyStatusStore | null = null,
    private readonly now: () => number = Date.now,
    private readonly warn: (line: string) => void = () => {},
  ) {}

  async read(_env: EnvironmentModel, signal?: AbortSignal): Promise<ActualRead> {
    // A bad record is one replica's: skipped and named, the other replicas' proxies still count.
    const skipped = (problem: string): void => this.warn(`${problem}: skipped (the proxies of that replica are not in this report)`);
    const proxyStore = this.proxyStore;
    const [applied, records] = await Promise.allSettled([this.store.read(signal), proxyStore ? proxyStore.readAll(signal, skipped) : null]);
    const unreachable: ActualRead["unreachable"] = [];
    const failed = (target: string, r: PromiseRejectedResult) => unreachable.push({ runtime: "mesh", target, reason: (r.reason as Error).message });
    if (applied.status === "rejected") failed(this.store.description, applied);
    if (records.status === "rejected") failed(proxyStore!.description, records);
    const policies = applied.status === "fulfilled" ? applied.value : null;
    const resources: ActualResource[] = (policies?.policies ?? []).map((policy) => ({
      runtime: "mesh",
      key: meshKey(policy.service),
      app: policies!.apps[policy.service] ?? policy.service,
      target: MESH_TARGET,
      policy,
    }));
    if (records.status === "rejected" || records.value === null) return { resources, unreachable };
    return { resources, unreachable, proxies: liveProxies(records.value, this.now()) };
  }
}

/** Runs `mesh-policy` tasks: one service's policy set or removed in the applied record, with the revision it came from. */
export class MeshPolicyHandler implements TaskHandler {
  constructor(
    private readonly store: MeshPolicyStore,
    private readonly env: string,
    private readonly revision: () => Promise<string | null>,
  ) {}

  async run(task: TaskRecord & { spec: TaskSpec }, ctx: TaskRunContext): Promise<TaskOutcome> {
    const p = task.spec.payload;
    if (p.kind !== "mesh-policy") throw new Error(`${task.target}: ${p.kind} is not a mesh task`);
    const before = (await this.store.read(ctx.signal)) ?? { env: this.env, revision: null, appliedAt: "", policies: [], apps: {} };
    const policies = before.policies.filter((x) => x.service !== p.service);
    const apps = { ...before.apps };
    delete apps[p.service];
    if (p.policy) {
      policies.push(p.policy);
      if (p.app) apps[p.service] = p.app;
    }
    policies.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
    if (JSON.stringify(policies) === JSON.stringify(before.policies)) {
      return { result: "unchanged", message: `traffic policy of ${p.service} is applied as desired (${this.store.description})` };
    }
    const revision = await this.revision();
    const applied: AppliedMesh = { env: this.env, revision, appliedAt: new Date().toISOString(), policies, apps };
    ctx.log(`recording the traffic policy of ${p.service} in ${this.store.description}`);
    await this.store.write(applied, ctx.signal);
    const what = p.policy ? "applied traffic policy" : "removed the traffic policy";
    return { result: "changed", message: `${what} of ${p.service}${revision ? ` (revision ${revision.slice(0, 12)})` : ""}: the control plane pushes it to the proxies` };
  }
}
