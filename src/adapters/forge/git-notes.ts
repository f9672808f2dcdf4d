// Commit statuses as git notes: one JSON note per commit under `refs/notes/amphi`, holding every context
// posted for that commit, merged with what is already there. The default provider: it needs no forge, and
// `git notes --ref amphi show <sha>` (or `git log --notes=amphi`) reads it; `git push origin refs/notes/amphi`
// shares it.
import type { CommitStatus } from "../../health/status.js";
import { runGit } from "../git/run-git.js";
import { failAll, isCommitSha, type PostResult, type StatusReporter } from "./types.js";

/** The notes ref amphi writes (`git notes --ref amphi` means `refs/notes/amphi`). */
export const NOTES_REF = "amphi";

/** One context in a note. */
export interface NoteStatus extends CommitStatus {
  updatedAt: string;
}

/** The JSON note of one commit. */
export interface StatusNote {
  apiVersion: "amphi.dev/v1";
  kind: "CommitStatuses";
  commit: string;
  /** One entry per context, sorted by context. */
  statuses: NoteStatus[];
}

/** Options of {@link GitNotesReporter}. */
export interface GitNotesOptions {
  /** The notes ref (default {@link NOTES_REF}). */
  ref?: string;
  /** Clock for `updatedAt`. */
  now?: () => Date;
}

/** Writes statuses as notes in the Git repository at `repoDir`. Posts through one reporter are serialized
 * (read, merge, write), so two runs in one process never drop each other's contexts. A post that changes no
 * context's state or description writes nothing (no notes commit for a new `updatedAt` alone). */
export class GitNotesReporter implements StatusReporter {
  readonly provider = "gitnotes";
  private readonly ref: string;
  private readonly now: () => Date;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repoDir: string,
    opts: GitNotesOptions = {},
  ) {
    this.ref = opts.ref ?? NOTES_REF;
    this.now = opts.now ?? (() => new Date());
  }

  post(sha: string, statuses: readonly CommitStatus[]): Promise<PostResult[]> {
    const run = this.queue.then(() => this.write(sha, statuses));
    this.queue = run.catch(() => undefined);
    return run.catch((e: unknown) => failAll(statuses, (s) => `gitnotes status ${s.context} on ${sha.slice(0, 12)}: ${(e as Error).message}`));
  }

  /** The note of a commit, or null when it has none. */
  async read(sha: string): Promise<StatusNote | null> {
    const shown = await runGit(this.repoDir, ["notes", "--ref", this.ref, "show", sha]);
    if (shown.code !== 0) {
      if (/no note found/i.test(shown.stderr)) return null;
      throw new Error(`git notes show failed: ${shown.stderr || `exit ${shown.code}`}`);
    }
    return parseNote(shown.stdout.toString("utf8"), sha);
  }

  private async write(sha: string, statuses: readonly CommitStatus[]): Promise<PostResult[]> {
    if (!isCommitSha(sha)) throw new Error(`${JSON.stringify(sha.slice(0, 80))} is not a full commit SHA`);
    const found = await runGit(this.repoDir, ["cat-file", "-e", `${sha}^{commit}`]);
    if (found.code !== 0) throw new Error(`commit ${sha.slice(0, 12)} is not in ${this.repoDir}`);
    const at = this.now().toISOString();
    const merged = new Map((await this.read(sha))?.statuses.map((s) => [s.context, s]) ?? []);
    let changed = false;
    for (const s of statuses) {
      const old = merged.get(s.context);
      if (old && sameStatus(old, s)) continue;
      merged.set(s.context, { context: s.context, state: s.state, description: s.description, ...(s.targetUrl ? { targetUrl: s.targetUrl } : {}), updatedAt: at });
      changed = true;
    }
    // Why: a `reconcile --once` from cron is a new process each time, with no memory of what it posted; without
    // this, every in-sync cycle would add a notes commit that changes nothing but `updatedAt`.
    if (!changed) return statuses.map((s) => ({ context: s.context, ok: true, httpStatus: null, attempts: 0, error: null }));
    const note: StatusNote = { apiVersion: "amphi.dev/v1", kind: "CommitStatuses", commit: sha, statuses: [...merged.values()].sort((a, b) => (a.context < b.context ? -1 : a.context > b.context ? 1 : 0)) };
    // Why a fixed identity: the note is amphi's record, and CI machines often have no user.name set.
    const added = await runGit(this.repoDir, ["-c", "user.name=amphi", "-c", "user.email=amphi@localhost", "notes", "--ref", this.ref, "add", "-f", "-F", "-", sha], `${JSON.stringify(note, null, 2)}\n`);
    if (added.code !== 0) throw new Error(`git notes add failed: ${added.stderr || `exit ${added.code}`}`);
    return statuses.map((s) => ({ context: s.context, ok: true, httpStatus: null, attempts: 1, error: null }));
  }
}

/** Whether a posted status says what the note already has: same state and description, and a link when it had
 * one. The link itself is not compared: it names the report of each cycle, and the one that set the state
 * stands for every later cycle that found the same. */
export function sameStatus(old: CommitStatus, s: CommitStatus): boolean {
  return old.state === s.state && old.description === s.description && Boolean(old.targetUrl) === Boolean(s.targetUrl);
}

/** Reads a note; a note that is not amphi's JSON (written by hand, say) is replaced rather than merged. */
function parseNote(text: string, sha: string): StatusNote {
  try {
    const doc = JSON.parse(text) as Partial<StatusNote>;
    if (doc.kind === "CommitStatuses" && Array.isArray(doc.statuses)) return { apiVersion: "amphi.dev/v1", kind: "CommitStatuses", commit: sha, statuses: doc.statuses };
  } catch {
    // not JSON
  }
  return { apiVersion: "amphi.dev/v1", kind: "CommitStatuses", commit: sha, statuses: [] };
}
