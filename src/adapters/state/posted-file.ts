// What the loop last posted as commit statuses, per environment, in `<stateDir>/statuses/<env>.json`, so that a
// new process (`reconcile --once` from cron) does not post to a forge again what it posted last time. Only the
// last post of each environment is kept (revision and statuses), so the file never grows.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PostedMemo } from "../../ports/status.js";

/** A PostedMemo in a directory (normally `<stateDir>/statuses`). */
export class FilePostedMemo implements PostedMemo {
  constructor(readonly dir: string) {}

  /** The last post of `env`, or null (none, or an unreadable file: then statuses are posted again). */
  async get(env: string): Promise<{ key: string; text: string } | null> {
    try {
      const v = JSON.parse(readFileSync(this.file(env), "utf8")) as { key?: unknown; text?: unknown };
      return typeof v.key === "string" && typeof v.text === "string" ? { key: v.key, text: v.text } : null;
    } catch {
      return null;
    }
  }

  /** Records the last post of `env` (atomically). */
  async set(env: string, post: { key: string; text: string }): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file(env)}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(post) + "\n");
    renameSync(tmp, this.file(env));
  }

  private file(env: string): string {
    return join(this.dir, `${env}.json`);
  }
}
