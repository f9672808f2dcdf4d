// Builds the adapters one environment needs (hosts, state store, packages) from CLI options.
import { resolve } from "node:path";
import { InputError, type EnvironmentModel, type Model } from "../model/index.js";
import type { Clock, ConfigSource } from "../ports/index.js";
import type { HostConnector, HostRef } from "../ports/hosts.js";
import type { KubectlOptions } from "../adapters/kubectl/index.js";
import { TransportConnector, hostRefs } from "../adapters/hosts.js";
import { FileStateStore } from "../adapters/state/file-store.js";
import { PackageResolver } from "../adapters/packages/resolver.js";
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
  close(): Promise<void>;
}

/** Finds the environment or fails naming it and the known ones. */
export function findEnv(model: Model, name: string): EnvironmentModel {
  const env = model.environments.find((e) => e.name === name);
  if (env) return env;
  const known = model.environments.map((e) => e.name).join(", ") || "none";
  throw new InputError(`unknown environment "${name}" (known: ${known})`);
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
  return {
    env,
    hosts: hostRefs(env, io.cwd),
    connector,
    store: new FileStateStore(stateDir),
    packages: new PackageResolver(source, resolve(stateDir, "cache", "packages")),
    clock: { now: () => new Date() },
    parallel: parseParallel(opts.parallel),
    kubectl: { binary: io.env.AMPHI_KUBECTL ?? "kubectl", kubeconfig: opts.kubeconfig ? resolve(io.cwd, opts.kubeconfig) : null, env: io.env },
    close: () => connector.closeAll(),
  };
}
