// Environment locks as files: `<stateDir>/locks/<env>.lock`, created with O_EXCL and holding the holder's
// pid, host, process start time and the time the lock was taken. A lock whose holder process is gone
// (same host, pid dead or reused by another process) is stale and taken over. Locks of another host are
// never judged stale from here: its pids mean nothing on this machine.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { LockBusyError, type EnvLocks, type Lease, type LockHolder } from "../../ports/locks.js";
import { sleep } from "./sleep.js";

interface LockFile extends LockHolder {
  token: string;
  /** Start time of the holder process (Linux: /proc/<pid>/stat field 22), to tell a reused pid. */
  procStart: string | null;
}

/** How long an empty lock file (a holder that died between create and write) is left alone. */
const EMPTY_GRACE_MS = 10_000;

/** File locks under `<dir>` (normally `<stateDir>/locks`). */
export class FileEnvLocks implements EnvLocks {
  constructor(
    readonly dir: string,
    private readonly pollMs = 100,
  ) {}

  /** Takes `env`'s lock (see EnvLocks). */
  async acquire(env: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Lease> {
    mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, `${env}.lock`);
    const start = Date.now();
    for (;;) {
      const mine = tryCreate(file);
      if (mine) return lease(file, mine, Date.now() - start);
      const holder = readLock(file);
      if (holder === "gone") continue;
      if (isStale(file, holder)) {
        takeOver(file, holder);
        continue;
      }
      const left = opts.timeoutMs - (Date.now() - start);
      if (left <= 0 || opts.signal?.aborted) throw new LockBusyError(env, holder);
      await sleep(Math.min(this.pollMs, left), opts.signal);
    }
  }
}

function tryCreate(file: string): LockFile | null {
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return null;
    throw new Error(`cannot create lock ${file}: ${(e as Error).message}`);
  }
  const me: LockFile = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString("hex"), procStart: procStart(process.pid) };
  try {
    writeSync(fd, JSON.stringify(me) + "\n");
  } finally {
    closeSync(fd);
  }
  return me;
}

function lease(file: string, mine: LockFile, waitedMs: number): Lease {
  let released = false;
  // A process that exits without releasing (an uncaught error) should not leave a lock behind for 1 pid check.
  const onExit = (): void => release();
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener("exit", onExit);
    const now = readLock(file);
    if (now !== "gone" && now !== null && now.token === mine.token) unlinkSync(file);
  };
  process.on("exit", onExit);
  return { waitedMs, lost: new AbortController().signal, release: async () => release() };
}

/** The lock's content; null when it is empty or unreadable (being written, or a holder died mid-write). */
function readLock(file: string): LockFile | null | "gone" {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw e;
  }
  try {
    const v = JSON.parse(text) as LockFile;
    return typeof v.pid === "number" ? v : null;
  } catch {
    return null;
  }
}

function isStale(file: string, h: LockFile | null): boolean {
  if (h === null) {
    const age = Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    return age > EMPTY_GRACE_MS;
  }
  if (h.host !== hostname() || h.pid === null) return false;
  if (!alive(h.pid)) return true;
  const start = procStart(h.pid);
  return h.procStart !== null && start !== null && start !== h.procStart;
}

// Why rename first: two waiters may both find the same stale lock. Only one rename of that file succeeds;
// the other finds the new holder's lock (or none) on its next try instead of deleting a live lock.
function takeOver(file: string, stale: LockFile | null): void {
  const aside = `${file}.stale-${process.pid}-${randomBytes(3).toString("hex")}`;
  try {
    renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  const moved = readLock(aside);
  const same = moved !== "gone" && (moved === null ? stale === null : stale !== null && moved.token === stale.token);
  if (!same) {
    // A new holder's lock was moved by mistake (it replaced the stale one in between): put it back,
    // unless yet another holder has created one meanwhile (link fails then, and that one stands).
    try {
      linkSync(aside, file);
    } catch {
      /* that holder's lock stays */
    }
  }
  unlinkSync(aside);
}

/** Whether a process with this pid exists on this machine (EPERM: it exists, owned by someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}
