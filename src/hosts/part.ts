// What one runtime on hosts adds to the host reader and handler (hosts/reader.ts, hosts/handler.ts): how it
// reads its resources on a host and runs its tasks there, both through the host's one session. The reader
// and handler open the session and probe state.json once; a new resource kind on hosts is a new HostPart.
import type { EnvSecrets } from "../model/index.js";
import type { ActualResource, HostInstance, Runtime, TaskKind } from "../model/index.js";
import type { HostRef } from "../ports/hosts.js";
import type { TaskOutcome } from "../ports/tasks.js";
import type { TaskPayload } from "../plan/tasks.js";
import type { HostProbe } from "./probe.js";
import type { ReporterConfig } from "./reporter.js";
import type { TaskContext } from "./task.js";

/** Where a deploy gets its package file from (verified against the instance's sha256). */
export interface PackageFiles {
  file(instance: HostInstance): Promise<string>;
  /** Drops a cached copy of a package a host refused. */
  evict?(instance: HostInstance): Promise<void>;
}

/** One host as a part reads it: its open session (the context of host tasks; `log` takes warnings) and its ref. */
export interface HostReadContext extends TaskContext {
  ref: HostRef;
}

/** What host tasks get besides their context and payload: the settings of the apply. */
export interface HostTaskOptions {
  packages: PackageFiles;
  healthTimeoutMs: number;
  /** Health reporter settings for deploys (reporter.ts); null removes reporters (no Consul); undefined
   * leaves them as they are. Its token is also the one mesh-dns reads the catalog with. */
  reporter?: ReporterConfig | null;
  /** The environment's secrets: the plaintext behind each secret token of an instance's environment, put
   * into the env file a deploy sends on stdin (state.json keeps the token). */
  secrets?: EnvSecrets;
}

/** One task of a host part: runs `payload` through the session in `ctx`. */
export type HostTask<K extends TaskKind> = (ctx: TaskContext, payload: Extract<TaskPayload, { kind: K }>, opts: HostTaskOptions) => Promise<TaskOutcome>;

/** The host tasks of a part, by kind. */
export type HostTasks = { [K in TaskKind]?: HostTask<K> };

/** One runtime's part of the host reader and handler. */
export interface HostPart {
  /** The runtime of the resources it reads. */
  runtime: Runtime;
  /** Its resources on one host: from what the host's probe saw (state.json, processes), and what more it
   * reads through the session. Throws (TaskError) when the host cannot be read: the host is unreachable. */
  read(ctx: HostReadContext, seen: HostProbe): Promise<ActualResource[]>;
  tasks: HostTasks;
}
