// The pod sync's ports: the pods of amphi's Deployments on a cluster (PodSource: adapters/kubectl/pods.ts) and
// amphi's pod instances in the registry (PodCatalog: adapters/consul/pods.ts). reconcile/pod-sync.ts runs
// the pure decision (src/pod-sync) between them.
import type { ClusterModel, EnvironmentModel, PodInfo, PodRegistration } from "../model/index.js";

/** A running watch; `stop()` ends it at once (no callback after it). */
export interface PodWatch {
  stop(): void;
}

/** Reads and watches the pods of one environment's amphi Deployments on a cluster. */
export interface PodSource {
  /** Every amphi pod of `env` on `cluster` (ready or not), in the namespaces the environment uses there.
   * Rejects (naming the cluster) when the cluster cannot be read: an unread cluster is never "no pods". */
  list(env: EnvironmentModel, cluster: ClusterModel, signal?: AbortSignal): Promise<PodInfo[]>;
  /** Watches those pods: `onChange` after any of them was added, changed or deleted (the caller lists them
   * again), also once when the watch (re)starts. Errors never end the watch: it restarts with backoff and
   * reports each failure to `onError`. */
  watch(env: EnvironmentModel, cluster: ClusterModel, opts: { onChange(): void; onError(e: Error): void; signal: AbortSignal }): PodWatch;
}

/** amphi's pod instances in an environment's registry. */
export interface PodCatalog {
  /** Where it is, for messages. */
  readonly address: string;
  /** Every pod registration of the environment's services (callers keep only amphi's own); rejects when the
   * registry cannot be read, or hides entries from the token. */
  read(env: EnvironmentModel, signal?: AbortSignal): Promise<PodRegistration[]>;
  /** Writes one registration (creates or replaces it, its check passing). */
  register(r: PodRegistration, signal?: AbortSignal): Promise<void>;
  /** Removes one registration (no error when it is already gone). */
  deregister(r: PodRegistration, signal?: AbortSignal): Promise<void>;
}

/** Opens an environment's pod catalog (throws when its registry settings cannot be used, e.g. a token
 * variable that is unset). */
export type PodCatalogFor = (env: EnvironmentModel) => PodCatalog;
