// Runs the host tasks of a run: opens (or reuses) the host's session and hands the task to the host part
// (hosts/part.ts) that has its kind.
import type { TaskKind, TaskRecord } from "../model/index.js";
import type { HostConnector, HostRef } from "../ports/hosts.js";
import type { TaskHandler, TaskOutcome } from "../ports/tasks.js";
import type { TaskPayload, TaskSpec } from "../plan/tasks.js";
import { TaskError } from "./errors.js";
import type { HostPart, HostTask, HostTaskOptions } from "./part.js";

export type { PackageFiles } from "./part.js";

/** Options of the host handler. */
export interface HostHandlerOptions extends HostTaskOptions {
  connector: HostConnector;
  hosts: Map<string, HostRef>;
  /** Whose tasks it runs (a kind belongs to one part). */
  parts: readonly HostPart[];
  env: string;
  now(): string;
}

/** The TaskHandler for the tasks of the runtimes on hosts (each part says which kinds it runs). */
export class HostTaskHandler implements TaskHandler {
  private readonly tasks = new Map<TaskKind, HostTask<TaskKind>>();

  constructor(private readonly opts: HostHandlerOptions) {
    for (const part of opts.parts) {
      for (const [kind, task] of Object.entries(part.tasks)) this.tasks.set(kind as TaskKind, task as HostTask<TaskKind>);
    }
  }

  /** Runs one host task; errors name the host (TransportError, TaskError). */
  async run(task: TaskRecord & { spec: TaskSpec }, ctx: { signal: AbortSignal; log(line: string): void }): Promise<TaskOutcome> {
    const ref = this.opts.hosts.get(task.target);
    if (!ref) throw new TaskError(task.target, `not a host of environment ${this.opts.env}`);
    const session = await this.opts.connector.open(ref, ctx.signal);
    const tctx = { session, env: this.opts.env, now: this.opts.now, log: ctx.log, signal: ctx.signal };
    const p: TaskPayload = task.spec.payload;
    const run = this.tasks.get(p.kind);
    if (!run) throw new TaskError(task.target, `${p.kind} is not a host task`);
    return run(tctx, p as Extract<TaskPayload, { kind: TaskKind }>, this.opts);
  }
}
