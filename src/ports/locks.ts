// The EnvLocks port: the lock that keeps one reconcile per environment at a time, across processes (file
// backend) or across machines (Consul session). Adapters in src/adapters/state implement it.

/** Who holds an environment's lock. */
export interface LockHolder {
  pid: number | null;
  host: string | null;
  /** ISO time the lock was taken. */
  since: string | null;
}

/** A held lock. */
export interface Lease {
  /** How long acquiring waited for another holder (0 when it was free). */
  waitedMs: number;
  /** Aborted when the lock is lost while held (a Consul session invalidated): the run must stop. */
  lost: AbortSignal;
  release(): Promise<void>;
}

/** Per-environment locks. */
export interface EnvLocks {
  /** Takes `env`'s lock, waiting up to `timeoutMs` for its holder; throws LockBusyError after that. */
  acquire(env: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Lease>;
}

/** The lock stayed taken for the whole timeout. */
export class LockBusyError extends Error {
  constructor(
    readonly env: string,
    readonly holder: LockHolder | null,
  ) {
    super(busyMessage(env, holder));
    this.name = "LockBusyError";
  }
}

/** `environment prod is being reconciled by pid 1234 on web-1 since 2025-…`. */
export function busyMessage(env: string, h: LockHolder | null): string {
  if (!h) return `environment ${env} is being reconciled by another process`;
  const who = h.pid !== null ? `pid ${h.pid}` : "another process";
  return `environment ${env} is being reconciled by ${who}${h.host ? ` on ${h.host}` : ""}${h.since ? ` since ${h.since}` : ""}`;
}
