// One long-lived `git cat-file --batch-command` process answering many object lookups, pipelined:
// reading 1000 spec files costs one spawn instead of 1000 (`git show` per file).
import { spawnPiped, type PipedChild } from "../process/spawn.js";
import { gitEnv } from "./run-git.js";

/** What git says about an object: its type and size. */
export interface ObjectInfo {
  type: string;
  size: number;
}

interface Request {
  resolve: (v: { info: ObjectInfo; body: Buffer } | null) => void;
  reject: (e: Error) => void;
}

/** The process is closed after this long without requests; the next request starts a new one. */
const IDLE_MS = 200;

/** Reads objects (blob ids, or any name git accepts) through one cat-file process, started on demand. */
export class CatFileBatch {
  private child: PipedChild | null = null;
  private pending: Request[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private stderr = "";
  private idle: NodeJS.Timeout | null = null;
  private closeWhenDone = false;

  constructor(private readonly cwd: string) {}

  /** The object's bytes and info, or null when it does not exist. */
  contents(object: string): Promise<{ info: ObjectInfo; body: Buffer } | null> {
    // A name with a newline cannot be sent (it would split the command); no such object exists.
    if (object.includes("\n")) return Promise.resolve(null);
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    this.closeWhenDone = false;
    const child = this.child ?? this.start();
    if (this.pending.length === 0) holdLoop(child, true);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      child.stdin.write(`contents ${object}\n`);
    });
  }

  /** Ends the process once pending lookups have their answers. */
  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (this.pending.length > 0) {
      this.closeWhenDone = true;
      return;
    }
    this.child?.stdin.end();
    this.child = null;
  }

  private start(): PipedChild {
    const child = spawnPiped("git", ["cat-file", "--batch-command"], { cwd: this.cwd, env: gitEnv() });
    this.child = child;
    this.buf = Buffer.alloc(0);
    this.stderr = "";
    child.stdout.on("data", (chunk: Buffer) => this.onData(chunk));
    child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString("utf8")));
    child.stdin.on("error", () => {}); // reported through "close" below
    child.on("error", (e) => this.fail(child, e));
    child.on("close", (code) => {
      if (this.child !== child) return;
      this.child = null;
      if (this.pending.length > 0) this.fail(child, new Error(`git cat-file exited with ${code}: ${this.stderr.trim()}`));
    });
    return child;
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.pending.length > 0 && this.answerOne());
    if (this.pending.length > 0 || !this.child) return;
    holdLoop(this.child, false);
    if (this.closeWhenDone) this.close();
    else {
      this.idle = setTimeout(() => this.close(), IDLE_MS);
      this.idle.unref();
    }
  }

  /** Consumes one complete answer from the buffer, if there is one. */
  private answerOne(): boolean {
    const nl = this.buf.indexOf(10);
    if (nl < 0) return false;
    const header = this.buf.subarray(0, nl).toString("utf8");
    const req = this.pending[0]!;
    const m = /^[0-9a-f]+ (\S+) (\d+)$/.exec(header);
    if (!m) {
      // `<object> missing` or `<object> ambiguous`
      this.buf = this.buf.subarray(nl + 1);
      this.pending.shift();
      req.resolve(null);
      return true;
    }
    const info = { type: m[1]!, size: Number(m[2]) };
    const end = nl + 1 + info.size;
    if (this.buf.length < end + 1) return false;
    const body = Buffer.from(this.buf.subarray(nl + 1, end));
    this.buf = this.buf.subarray(end + 1);
    this.pending.shift();
    req.resolve({ info, body });
    return true;
  }

  private fail(child: PipedChild, e: Error): void {
    const pending = this.pending;
    this.pending = [];
    if (this.child === child) this.child = null;
    this.closeWhenDone = false;
    for (const r of pending) r.reject(new Error(`reading from git in ${this.cwd} failed: ${e.message}`));
  }
}

/** Why: an idle process must not keep Node alive when the caller never calls close() (the CLI just
 * exits), while one with lookups in flight must (a pending promise alone does not). */
function holdLoop(child: PipedChild, on: boolean): void {
  for (const h of [child, child.stdin, child.stdout, child.stderr] as { ref(): void; unref(): void }[]) {
    if (on) h.ref();
    else h.unref();
  }
}
