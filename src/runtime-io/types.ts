// What one runtime supplies to the I/O side: how its live state is read and its tasks run. The pure side
// of a runtime is its folder under src/runtimes/ (imported by the pure stages, so it imports no I/O code);
// this side sits above the adapters and is imported only by the composition root (src/cli).
import type { EnvironmentModel, Runtime } from "../model/index.js";
import type { ActualReader } from "../ports/actual.js";
import type { TaskHandler } from "../ports/tasks.js";
import type { KubectlOptions } from "../adapters/kubectl/run.js";
import type { HostPart } from "../hosts/part.js";

/** What a runtime's reader and handler are built from (the CLI's EnvContext has all of it). */
export interface IoContext {
  env: EnvironmentModel;
  /** How clusters are reached: kubectl from PATH (AMPHI_KUBECTL overrides), KUBECONFIG or --kubeconfig. */
  kubectl: KubectlOptions;
  /** The environment variables tokens are read from (never from flags or files). */
  processEnv: NodeJS.ProcessEnv;
  /** The directory a relative `state.path` is under. */
  cwd: string;
  /** The config commit being read or applied (null: a plain directory). */
  revision(): Promise<string | null>;
  /** Where a reader tells what it skipped but could read around (default: nowhere). */
  warn?(line: string): void;
}

/** Settings of an apply that handlers take. */
export interface ApplyOptions {
  /** How long a deploy's health gate or an applied Deployment may take to become healthy. */
  healthTimeoutMs: number;
  /** `amphi apply --force-conflicts`. */
  forceConflicts: boolean;
}

/** A runtime on hosts: read and changed through each host's one session, by the host reader and handler
 * (hosts/reader.ts, hosts/handler.ts) to which it adds its part. */
export interface HostRuntimeIo {
  runtime: Runtime;
  host: HostPart;
}

/** A runtime with a reader and a handler of its own. */
export interface OwnRuntimeIo {
  runtime: Runtime;
  reader(ctx: IoContext): ActualReader;
  /** Null when the environment does not use the runtime (its tasks then fail naming the missing handler). */
  handler(ctx: IoContext, apply: ApplyOptions): TaskHandler | null;
}

/** The I/O side of one runtime. */
export type RuntimeIo = HostRuntimeIo | OwnRuntimeIo;
