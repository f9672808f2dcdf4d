// The environment lock of commands that change an environment (apply, its --async runner, demo --down),
// the same lock `reconcile` and `serve` take per cycle: a file lock, or a Consul session lock when the
// environment's state backend is Consul (see backendsFor). A second holder waits up to --lock-timeout, then
// fails naming the holder's pid and host.
import type { EnvironmentModel } from "../model/index.js";
import { LockBusyError, type Lease } from "../ports/locks.js";
import type { Io } from "./common.js";
import { backendsFor } from "./reconcile.js";

/** Default of `--lock-timeout` (as `reconcile`'s). */
export const DEFAULT_LOCK_TIMEOUT = "30s";

/** A held environment lock; `release()` also closes the backend (a Consul session). */
export interface EnvLock {
  release(): Promise<void>;
}

/** Takes `env`'s lock, saying on stderr whom it waits for; throws LockBusyError after `timeoutMs`. */
export async function lockEnv(io: Io, env: EnvironmentModel, timeoutMs: number, signal?: AbortSignal): Promise<EnvLock> {
  const backends = backendsFor(io, {});
  const locks = backends(env).locks;
  let lease: Lease;
  try {
    lease = await locks.acquire(env.name, { timeoutMs: 0, signal }).catch(async (e: unknown) => {
      if (!(e instanceof LockBusyError) || timeoutMs === 0) throw e;
      io.err(`amphi: ${e.message}; waiting up to ${timeoutMs / 1000}s for it (--lock-timeout)\n`);
      return locks.acquire(env.name, { timeoutMs, signal });
    });
  } catch (e) {
    await backends.close();
    throw e;
  }
  return {
    release: async () => {
      try {
        await lease.release();
      } finally {
        await backends.close();
      }
    },
  };
}
