// Builds the adapters one environment needs (hosts, state store, packages) from CLI options.
import { resolve } from "node:path";
import { InputError, findEnvironment, type ActualState, type AppModel, type EnvironmentModel, type Model } from "../model/index.js";
import type { Clock, ConfigSource } from "../ports/index.js";
import type { HostConnector, HostRef } from "../ports/hosts.js";
import type { KubectlOptions } from "../adapters/kubectl/index.js";
import { HostTaskHandler } from "../hosts/handler.js";
import { HostsReader } from "../hosts/reader.js";
import { reporterConfigFor } from "../hosts/reporter.js";
import type { Handlers } from "../reconcile/execute.js";
import { readActual } from "../reconcile/actual.js";
import type { ActualReader } from "../ports/actual.js";
import type { TaskHandler } from "../ports/tasks.js";
import { hooksOf } from "../runtimes/index.js";
import { RUNTIME_IO, hostParts, type ApplyOptions } from "../runtime-io/index.js";
import { TransportConnector, hostRefs } from "../adapters/hosts.js";
import { FileStateStore } from "../adapters/state/file-store.js";
import { KubectlPodSource } from "../adapters/kubectl/pods.js";
import { consulPodCatalog } from "../adapters/consul/pods.js";
import { formatPodSync, syncPods, type PodSyncResult } from "../reconcile/pod-sync.js";
import { PackageResolver } from "../adapters/packages/resolver.js";
import { requireSecrets } from "../secrets/unlock.js";
import type { Io } from "./common.js";

/** Options that choose how hosts are reached. */
export interface HostOptions {
  acceptNewHostKeys?: boolean;
  parallel?: string;
  kubeconfig?: string;
}

/** Everything a command needs to talk to one environment. `close()` ends every session. */
export interface EnvContext {
  env: EnvironmentModel;
  hosts: Map<string, HostRef>;
  connector: HostConnector;
  store: FileStateStore;
  packages: PackageResolver;
  clock: Clock;
  parallel: number;
  /** How clusters are reached: kubectl from PATH (AMPHI_KUBECTL overrides), KUBECONFIG or --kubeconfig. */
  kubectl: KubectlOptions;
  /** The environment variables tokens are read from (never from flags or files). */
  processEnv: NodeJS.ProcessEnv;
  /** The directory a relative `state.path` is under. */
  cwd: string;
  /** The config commit being read (null: a plain directory). */
  revision(): Promise<string | null>;
  /** The environment's live actual state: hosts, clusters and Consul, read through these adapters. */
  readActual(signal?: AbortSignal): Promise<ActualState>;
  /** Syncs the environment's ready pods into Consul (or, with `apply: false`, only decides); null when the
   * environment has no Consul or no cluster. Rejects when Consul cannot be read. */
  syncPods(apps: readonly AppModel[], opts?: { apply?: boolean; signal?: AbortSignal }): Promise<PodSyncResult | null>;
  close(): Promise<void>;
}

/** The task handlers of an apply, one per handler name the runtimes' task hooks give (src/runtime-io lists
 * how each is built): hosts always (one for every runtime on hosts), clusters through kubectl, the registry
 * when the environment has Consul. Shared by `apply`, `reconcile` and `serve`. */
export function handlersFor(ctx: EnvContext, opts: { healthTimeoutMs: number; forceConflicts?: boolean }): Handlers {
  // Nothing is applied to an environment whose secrets are not decrypted (no identity) or do not decrypt.
  requireSecrets(ctx.env);
  const apply: ApplyOptions = { healthTimeoutMs: opts.healthTimeoutMs, forceConflicts: opts.forceConflicts ?? false };
  const handlers: Handlers = {};
  for (const io of RUNTIME_IO) {
    const name = hooksOf(io.runtime).tasks.handler;
    // the runtimes on hosts share one handler (and one session per host)
    const handler = handlers[name] ?? ("host" in io ? hostHandler(ctx, apply) : io.handler(ctx, apply));
    if (handler) handlers[name] = handler;
  }
  return handlers;
}

function hostHandler(ctx: EnvContext, apply: ApplyOptions): TaskHandler {
  const reporter = ctx.env.consul.enabled ? reporterConfigFor(ctx.env, ctx.processEnv) : null;
  const now = () => ctx.clock.now().toISOString();
  return new HostTaskHandler({ connector: ctx.connector, hosts: ctx.hosts, parts: hostParts(), packages: ctx.packages, env: ctx.env.name, now, healthTimeoutMs: apply.healthTimeoutMs, reporter, secrets: ctx.env.secrets });
}

/** The live-state readers of an environment, in the order of src/runtime-io's list: one for the runtimes on
 * hosts (each host read through one session), then each other runtime's own (clusters through kubectl, its
 * Consul registrations). Shared by `plan`, `drift`, `apply`, `reconcile` and `serve`. */
export function readersFor(ctx: EnvContext, warn: (line: string) => void): ActualReader[] {
  const now = () => ctx.clock.now().toISOString();
  const hostsReader = new HostsReader({ connector: ctx.connector, hosts: ctx.hosts, parts: hostParts(), now, parallel: ctx.parallel, warn });
  const readers: ActualReader[] = [];
  for (const io of RUNTIME_IO) {
    if (!("host" in io)) readers.push(io.reader({ ...ctx, warn }));
    else if (!readers.includes(hostsReader)) readers.push(hostsReader);
  }
  return readers;
}

/** Finds the environment or fails naming it and the known ones (an InputError). */
export function findEnv(model: Model, name: string): EnvironmentModel {
  return findEnvironment(model, name);
}

/** Parses `--parallel`: a positive integer. */
export function parseParallel(value: string | undefined): number {
  const n = Number(value ?? 10);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`--parallel must be a positive integer, not "${value}"`);
  return n;
}

/** Builds the adapters for `env`. The state store lives at the environment's `state.path` (default `.amphi`). */
export function envContext(io: Io, source: ConfigSource, env: EnvironmentModel, opts: HostOptions): EnvContext {
  const stateDir = resolve(io.cwd, env.state.path);
  const connector = new TransportConnector({
    ssh: async () => new (await import("../adapters/ssh/index.js")).SshConnector({ acceptNewHostKeys: opts.acceptNewHostKeys ?? false, env: io.env }),
    local: async () => new (await import("../adapters/local/index.js")).LocalConnector({ cwd: io.cwd }),
  });
  const ctx: EnvContext = {
    env,
    hosts: hostRefs(env, io.cwd),
    connector,
    store: new FileStateStore(stateDir),
    packages: new PackageResolver(source, resolve(stateDir, "cache", "packages")),
    clock: { now: () => new Date() },
    parallel: parseParallel(opts.parallel),
    kubectl: kubectlFor(io, opts),
    processEnv: io.env,
    cwd: io.cwd,
    revision: () => source.revision(),
    readActual: (signal) => readActual(env, readersFor(ctx, (l) => io.err(`warning: ${l}\n`)), { now: () => ctx.clock.now().toISOString(), signal }),
    syncPods: async (apps, o = {}) => {
      if (!env.consul.enabled || env.clusters.length === 0) return null;
      return syncPods({ pods: new KubectlPodSource(ctx.kubectl), catalog: consulPodCatalog(env, io.env) }, env, apps, o);
    },
    close: () => connector.closeAll(),
  };
  return ctx;
}

/** How clusters are reached: kubectl from PATH (AMPHI_KUBECTL overrides), KUBECONFIG or --kubeconfig. */
export function kubectlFor(io: Io, opts: HostOptions): KubectlOptions {
  return { binary: io.env.AMPHI_KUBECTL ?? "kubectl", kubeconfig: opts.kubeconfig ? resolve(io.cwd, opts.kubeconfig) : null, env: io.env };
}

/** Syncs the environment's pods into Consul (or with `apply` false only decides) and logs each step; resolves
 * the result, or null when there is none (a failure is logged, never thrown: the registry is fixed by the next
 * sync, and the run's own outcome stands). */
export async function syncPodsLogged(ctx: EnvContext, apps: readonly AppModel[], log: (line: string) => void, signal?: AbortSignal, apply = true): Promise<PodSyncResult | null> {
  try {
    const r = await ctx.syncPods(apps, { signal, apply });
    if (r) for (const line of formatPodSync(ctx.env.name, r)) log(line);
    return r;
  } catch (e) {
    log(`amphi: ${ctx.env.name}: pod sync failed: ${(e as Error).message}`);
    return null;
  }
}

/** Parses `--health-timeout` (seconds) into milliseconds: a positive number. */
export function parseHealthTimeout(value: string | undefined): number {
  const ms = Number(value ?? 30) * 1000;
  if (!Number.isFinite(ms) || ms <= 0) throw new InputError(`--health-timeout must be a positive number of seconds, not "${value}"`);
  return ms;
}
