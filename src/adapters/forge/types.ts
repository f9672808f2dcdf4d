// Helpers shared by the status reporters (the port itself is src/ports/status.ts).
import type { CommitStatus, PostResult } from "../../ports/status.js";

export type { PostResult, StatusReporter } from "../../ports/status.js";

/** Whether `sha` is a full commit ID (SHA-1 or SHA-256 hex). Why strict: it is put into URL paths and git
 * arguments, where a `-` or `/` would change what is asked for. */
export function isCommitSha(sha: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i.test(sha);
}

/** A result for every status, all failed with the same message (nothing was sent). */
export function failAll(statuses: readonly CommitStatus[], message: (s: CommitStatus) => string): PostResult[] {
  return statuses.map((s) => ({ context: s.context, ok: false, httpStatus: null, attempts: 0, error: message(s) }));
}
