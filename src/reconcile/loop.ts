// The GitOps loop: schedules cycles per environment. One cycle per environment at a time in this process
// (the lock does it across processes); triggers that arrive while one runs are folded into one follow-up
// cycle; an API request for a busy environment is refused instead. Timers: one interval for all
// environments (fetch + self-heal). Stopping aborts running cycles and waits for them to save their runs.
import { newRunId } from "./apply.js";
import type { RunRecord, TaskRecord } from "../model/index.js";
import { explicit, type CycleRequest, type CycleResult, type Trigger } from "./cycle.js";

/** Runs one cycle (a Reconciler, or a fake in tests). */
export interface CycleRunner {
  run(req: CycleRequest): Promise<CycleResult>;
}

/** One environment the loop serves. */
export interface LoopEnv {
  name: string;
  branch: string | null;
}

/** Options of the loop. */
export interface LoopOptions {
  envs: LoopEnv[];
  /** Interval between cycles of every environment; null: no timer. */
  intervalMs: number | null;
  selfHeal: boolean;
  lockTimeoutMs: number;
  /** Called after each cycle. */
  onResult?: (r: CycleResult) => void;
  /** Called on every task change of a running cycle (metrics, live views). */
  onProgress?: (run: RunRecord, task: TaskRecord | null) => void;
  now?: () => Date;
}

/** A cycle accepted by `request`: its run ID and when it ends. */
export interface Accepted {
  accepted: true;
  runId: string;
  /** Whether it joined a cycle already queued (same run ID for both requests). */
  joined: boolean;
  done: Promise<CycleResult>;
}

/** A refused request: the environment is busy with `runId` since `since`. */
export interface Busy {
  accepted: false;
  runId: string;
  since: string;
}

interface Slot {
  runId: string;
  trigger: Trigger;
  since: string;
  done: Promise<CycleResult>;
  start?: () => void;
}

interface EnvState {
  env: LoopEnv;
  running: Slot | null;
  next: Slot | null;
}

/** Schedules cycles for a set of environments. */
export class ReconcileLoop {
  private readonly envs = new Map<string, EnvState>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => Date;

  constructor(
    private readonly runner: CycleRunner,
    private readonly opts: LoopOptions,
  ) {
    this.now = opts.now ?? (() => new Date());
    for (const env of opts.envs) this.envs.set(env.name, { env, running: null, next: null });
  }

  /** Environment names served. */
  get names(): string[] {
    return [...this.envs.keys()];
  }

  /** Starts a cycle of every environment now and then on the interval. */
  start(trigger: Trigger = "start"): void {
    for (const name of this.envs.keys()) this.request(name, trigger);
    if (this.opts.intervalMs !== null) {
      this.timer = setInterval(() => {
        for (const name of this.envs.keys()) this.request(name, "interval");
      }, this.opts.intervalMs);
    }
  }

  /** Asks for a cycle of `env`. While one runs, the request joins the queued follow-up (or becomes it);
   * with `refuseIfBusy` it is refused instead. Undefined for an environment the loop does not serve. */
  request(env: string, trigger: Trigger, refuseIfBusy = false): Accepted | Busy | undefined {
    const st = this.envs.get(env);
    if (!st || this.stopping.signal.aborted) return undefined;
    if (st.running && refuseIfBusy) return { accepted: false, runId: st.running.runId, since: st.running.since };
    if (st.running) {
      if (st.next) {
        // An explicit request upgrades the queued cycle so that it records a run for its caller.
        if (explicit(trigger) && !explicit(st.next.trigger)) st.next.trigger = trigger;
        return { accepted: true, runId: st.next.runId, joined: true, done: st.next.done };
      }
      st.next = this.slot(st, trigger, false);
      return { accepted: true, runId: st.next.runId, joined: false, done: st.next.done };
    }
    st.running = this.slot(st, trigger, true);
    return { accepted: true, runId: st.running.runId, joined: false, done: st.running.done };
  }

  /** Environments served from `branch` (null matches environments without a branch of their own). */
  envsOnBranch(branch: string, fallback: string): string[] {
    return [...this.envs.values()].filter((s) => (s.env.branch ?? fallback) === branch).map((s) => s.env.name);
  }

  /** The cycle running or queued for each environment, as a queued/running run stub (for the API, until
   * the cycle has saved its run). */
  pending(): { env: string; runId: string; trigger: Trigger; since: string; state: "running" | "queued" }[] {
    const out: { env: string; runId: string; trigger: Trigger; since: string; state: "running" | "queued" }[] = [];
    for (const [env, st] of this.envs) {
      if (st.running) out.push({ env, runId: st.running.runId, trigger: st.running.trigger, since: st.running.since, state: "running" });
      if (st.next) out.push({ env, runId: st.next.runId, trigger: st.next.trigger, since: st.next.since, state: "queued" });
    }
    return out;
  }

  /** Stops timers, refuses new requests, aborts running cycles and waits until they have ended. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopping.abort();
    const running: Promise<CycleResult>[] = [];
    for (const st of this.envs.values()) {
      if (st.running) running.push(st.running.done);
      // A queued cycle ends at once as cancelled (whoever waits for it is answered).
      if (st.next) running.push(st.next.done);
      st.next?.start?.();
    }
    await Promise.allSettled(running);
  }

  private slot(st: EnvState, trigger: Trigger, now: boolean): Slot {
    const at = this.now();
    let start!: () => void;
    const gate = new Promise<void>((r) => (start = r));
    const slot: Slot = { runId: newRunId(at), trigger, since: at.toISOString(), done: undefined as unknown as Promise<CycleResult> };
    slot.start = start;
    slot.done = gate.then(() => this.cycle(st, slot));
    if (now) start();
    return slot;
  }

  private async cycle(st: EnvState, slot: Slot): Promise<CycleResult> {
    slot.since = this.now().toISOString();
    let result: CycleResult;
    if (this.stopping.signal.aborted) {
      return { env: st.env.name, trigger: slot.trigger, outcome: "cancelled", revision: null, run: null, plan: null, message: "not run: amphi is stopping", startedAt: new Date(slot.since), durationMs: 0 };
    }
    try {
      result = await this.runner.run({
        env: st.env.name, branch: st.env.branch, trigger: slot.trigger, runId: slot.runId, selfHeal: this.opts.selfHeal,
        lockTimeoutMs: this.opts.lockTimeoutMs, signal: this.stopping.signal, onProgress: this.opts.onProgress,
      });
    } catch (e) {
      result = { env: st.env.name, trigger: slot.trigger, outcome: "error", revision: null, run: null, plan: null, message: (e as Error).message, startedAt: new Date(slot.since), durationMs: 0 };
    }
    this.opts.onResult?.(result);
    st.running = null;
    if (st.next && !this.stopping.signal.aborted) {
      st.running = st.next;
      st.next = null;
      st.running.start?.();
    } else st.next = null;
    return result;
  }
}
