// forge: commit statuses out — GitHub, Gitea/Forgejo, GitLab over HTTP, git notes in the config repo (the
// default, needing no forge), or none. `reporterFor` picks one from an environment's `status` settings;
// every reporter's `post` resolves with per-status results and never throws.
import type { StatusModel } from "../../model/index.js";
import type { CommitStatus } from "../../health/status.js";
import { failAll, type PostResult, type StatusReporter } from "./types.js";
import type { HttpReporterOptions, TokenSource } from "./http.js";
import { GITHUB_API, githubReporter } from "./github.js";
import { GITEA_URL, giteaReporter } from "./gitea.js";
import { GITLAB_URL, gitlabReporter } from "./gitlab.js";
import { GitNotesReporter, type GitNotesOptions } from "./git-notes.js";

export { isCommitSha, type PostResult, type StatusReporter } from "./types.js";
export { HttpStatusReporter, messageOf, scrub, type Dialect, type HttpReporterOptions, type RetryOptions, type TokenSource } from "./http.js";
export { GITHUB_API, githubDialect, githubReporter } from "./github.js";
export { GITEA_URL, giteaApi, giteaDialect, giteaReporter } from "./gitea.js";
export { GITLAB_STATES, GITLAB_URL, gitlabApi, gitlabDialect, gitlabReporter } from "./gitlab.js";
export { GitNotesReporter, NOTES_REF, type GitNotesOptions, type NoteStatus, type StatusNote } from "./git-notes.js";

/** A reporter that posts nothing (`provider: none`): every status counts as posted. */
export class NoneReporter implements StatusReporter {
  readonly provider = "none";
  async post(_sha: string, statuses: readonly CommitStatus[]): Promise<PostResult[]> {
    return statuses.map((s) => ({ context: s.context, ok: true, httpStatus: null, attempts: 0, error: null }));
  }
}

/** A reporter whose settings cannot work: every post fails with the same reason, nothing is sent. */
export class MisconfiguredReporter implements StatusReporter {
  constructor(
    readonly provider: string,
    readonly problem: string,
  ) {}
  async post(_sha: string, statuses: readonly CommitStatus[]): Promise<PostResult[]> {
    return failAll(statuses, (s) => `${this.provider} status ${s.context}: ${this.problem}`);
  }
}

/** What building a reporter needs besides the settings. */
export interface ReporterDeps extends HttpReporterOptions, GitNotesOptions {
  /** Environment variables; the token is read from the one `status.tokenEnv` names. */
  env: Record<string, string | undefined>;
  /** The local Git repository that git notes go to (the config repo), or null when there is none. */
  repoDir: string | null;
}

/** Why `status` settings cannot work (a missing repository, git notes without a local repo), or null. */
export function statusProblem(status: StatusModel, repoDir: string | null): string | null {
  if (status.provider === "gitnotes") return repoDir ? null : "git notes need the config repo as a local Git repository (--repo)";
  if (status.provider === "none") return null;
  if (!status.repository) return `status.repository is required for provider ${status.provider}`;
  return null;
}

/** The reporter an environment's `status` settings name:
 * - `gitnotes` → {@link GitNotesReporter} on `repoDir` (notes under `refs/notes/amphi`)
 * - `github` → `status.url` or https://api.github.com, `status.repository` = `owner/repo`
 * - `gitea` → `status.url` (with or without `/api/v1`) or https://gitea.com; also Forgejo
 * - `gitlab` → `status.url` (with or without `/api/v4`) or https://gitlab.com; `status.repository` = project path
 * - `none` → {@link NoneReporter}
 * The token is `deps.env[status.tokenEnv]`, sent only as a header. Settings that cannot work give a
 * {@link MisconfiguredReporter} (see {@link statusProblem}), so building a reporter never throws either. */
export function reporterFor(status: StatusModel, deps: ReporterDeps): StatusReporter {
  const problem = statusProblem(status, deps.repoDir);
  if (problem) return new MisconfiguredReporter(status.provider, problem);
  const token: TokenSource = { env: status.tokenEnv, value: status.tokenEnv ? (deps.env[status.tokenEnv] ?? null) || null : null };
  const repo = status.repository!;
  switch (status.provider) {
    case "gitnotes":
      return new GitNotesReporter(deps.repoDir!, deps);
    case "none":
      return new NoneReporter();
    case "github":
      return githubReporter(repo, token, { ...deps, api: status.url ?? GITHUB_API });
    case "gitea":
      return giteaReporter(repo, token, { ...deps, url: status.url ?? GITEA_URL });
    case "gitlab":
      return gitlabReporter(repo, token, { ...deps, url: status.url ?? GITLAB_URL });
  }
}
