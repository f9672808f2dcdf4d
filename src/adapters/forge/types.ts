// The StatusReporter port: commit statuses out to a forge, git notes, or nowhere. A post never throws: it
// answers per status whether it landed, so a reconcile run never fails because a forge is down.
import type { CommitStatus } from "../../health/status.js";

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

/** Whether `sha` is a full commit ID (SHA-1 or SHA-256 hex). Why strict: it is put into URL paths and git
 * arguments, where a `-` or `/` would change what is asked for. */
export function isCommitSha(sha: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i.test(sha);
}

/** A result for every status, all failed with the same message (nothing was sent). */
export function failAll(statuses: readonly CommitStatus[], message: (s: CommitStatus) => string): PostResult[] {
  return statuses.map((s) => ({ context: s.context, ok: false, httpStatus: null, attempts: 0, error: message(s) }));
}
