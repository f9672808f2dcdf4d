// The StatusReporter port: commit statuses out to a forge, git notes, or nowhere. A post never throws: it
// answers per status whether it landed, so a reconcile run never fails because a forge is down.

/** Commit-status states, as GitHub names them (adapters map them to each forge's words). */
export const COMMIT_STATES = ["success", "pending", "failure", "error"] as const;
/** One commit-status state. */
export type CommitState = (typeof COMMIT_STATES)[number];

/** Longest description GitHub accepts; the others take it too. */
export const MAX_DESCRIPTION = 140;

/** One commit status to post. */
export interface CommitStatus {
  context: string;
  state: CommitState;
  /** At most {@link MAX_DESCRIPTION} characters (GitHub answers 422 to longer ones). */
  description: string;
  /** Link to the report or run, when there is one. */
  targetUrl?: string;
}

/** The outcome of posting one status. */
export interface PostResult {
  context: string;
  ok: boolean;
  /** HTTP status of the last answer; null when none came (network error, timeout) or for git notes / none. */
  httpStatus: number | null;
  /** Requests made (1 + retries); 0 when nothing was sent (reporter `none`, bad configuration). */
  attempts: number;
  /** Why it failed, one line naming the provider, context and cause; null when ok. Never holds the token. */
  error: string | null;
}

/** Where commit statuses go. `post` resolves with one result per status, in the order given; it never
 * rejects (failures are results). */
export interface StatusReporter {
  /** Provider name for messages: `github`, `gitea`, `gitlab`, `gitnotes`, `none`. */
  readonly provider: string;
  post(sha: string, statuses: readonly CommitStatus[]): Promise<PostResult[]>;
}

/** The last statuses posted for an environment (`key`: `<env>@<revision>`, `text`: the statuses without
 * links), kept where a new process finds them: a forge is not asked to store the same statuses every cycle
 * of a `reconcile --once` from cron (GitHub keeps at most 1000 statuses per commit and context). */
export interface PostedMemo {
  get(env: string): Promise<{ key: string; text: string } | null>;
  set(env: string, post: { key: string; text: string }): Promise<void>;
}
