// Runs host tasks of a run: opens (or reuses) the host's session, resolves the package, calls the task.
import type { HostInstance, TaskRecord } from "../model/index.js";
import type { HostConnector, HostRef } from "../ports/hosts.js";
import type { TaskHandler, TaskOutcome } from "../ports/tasks.js";
import type { TaskSpec } from "../plan/tasks.js";
import { deploy, start, undeploy } from "./tasks.js";
import { applyCaptureWithDns, removeCaptureWithDns } from "./mesh-dns.js";
import { TaskError } from "./errors.js";
import type { ReporterConfig } from "./reporter.js";

/** Where a deploy gets its package file from (verified against the instance's sha256). */
export interface PackageFiles {
  file(instance: HostInstance): Promise<string>;
  /** Drops a cached copy of a package a host refused. */
  evict?(instance: HostInstance): Promise<void>;
}

/** Options of the host handler. */
export interface HostHandlerOptions {
  connector: HostConnector;
  hosts: Map<string, HostRef>;
  packages: PackageFiles;
  env: string;
  now(): string;
  healthTimeoutMs: number;
  /** Health reporter settings for deploys (reporter.ts); null removes reporters (no Consul); undefined
   * leaves them as they are. */
  reporter?: ReporterConfig | null;
}

/** The TaskHandler for deploy/start/undeploy/capture/uncapture. */
export class HostTaskHandler implements TaskHandler {
  constructor(private readonly opts: HostHandlerOptions) {}

  /** Runs one host task; errors name the host (TransportError, TaskError). */
  async run(task: TaskRecord & { spec: TaskSpec }, ctx: { signal: AbortSignal; log(line: string): void }): Promise<TaskOutcome> {
    const ref = this.opts.hosts.get(task.target);
    if (!ref) throw new TaskError(task.target, `not a host of environment ${this.opts.env}`);
    const session = await this.opts.connector.open(ref, ctx.signal);
    const tctx = { session, env: this.opts.env, now: this.opts.now, log: ctx.log, signal: ctx.signal };
    const p = task.spec.payload;
    switch (p.kind) {
      case "deploy": {
        ctx.log(`resolving package ${p.instance.app}@${p.instance.version}`);
        const packageFile = await this.opts.packages.file(p.instance);
        const onRefusedPackage = () => this.opts.packages.evict?.(p.instance);
        return deploy(tctx, p.instance, { packageFile, healthTimeoutMs: this.opts.healthTimeoutMs, reporter: this.opts.reporter, onRefusedPackage });
      }
      case "start":
        return start(tctx, p.app);
      case "undeploy":
        return undeploy(tctx, p.app);
      case "capture":
        // mesh-dns reads the catalog with the same Consul token as the health reporters (consul.tokenEnv)
        return applyCaptureWithDns(tctx, p.rules, () => this.opts.reporter?.token ?? null);
      case "uncapture":
        return removeCaptureWithDns(tctx);
      default:
        throw new TaskError(task.target, `${p.kind} is not a host task`);
    }
  }
}
