// GitLab commit statuses: `POST {url}/api/v4/projects/:id/statuses/:sha` (id = the URL-encoded project
// path), `PRIVATE-TOKEN` header, `name` instead of `context`, states pending/running/success/failed/canceled.
// GitLab refuses to move a status to the state it already has (400 "Cannot transition status via :run
// from :running"): that answer means the status is already there, so it counts as posted.
import type { CommitState, CommitStatus } from "../../health/status.js";
import { HttpStatusReporter, type Dialect, type HttpReporterOptions, type TokenSource } from "./http.js";
import { withApiPath } from "./github.js";

/** GitLab's public instance. */
export const GITLAB_URL = "https://gitlab.com";

/** amphi's states in GitLab's words: pending (a rollout in progress) is `running`; GitLab has no `error`. */
export const GITLAB_STATES: Record<CommitState, string> = { success: "success", failure: "failed", error: "failed", pending: "running" };

/** The API base of a GitLab URL: `https://gitlab.example.com` or `https://gitlab.example.com/api/v4`. */
export function gitlabApi(url: string): string {
  return withApiPath(url, "/api/v4");
}

/** The GitLab dialect for project `project` (its path, `group/sub/name`, or its numeric ID). */
export function gitlabDialect(url: string, project: string): Dialect {
  const base = `${gitlabApi(url)}/projects/${encodeURIComponent(project)}/statuses/`;
  return {
    provider: "gitlab",
    url: (sha) => base + sha,
    headers: (token): Record<string, string> => ({ accept: "application/json", ...(token ? { "private-token": token } : {}) }),
    body: (s: CommitStatus) => ({ state: GITLAB_STATES[s.state], name: s.context, description: s.description, ...(s.targetUrl ? { target_url: s.targetUrl } : {}) }),
    alreadySet: (s, httpStatus, message) => {
      if (httpStatus !== 400) return false;
      const m = /Cannot transition status via :\w+ from :(\w+)/.exec(message);
      return m !== null && m[1] === GITLAB_STATES[s.state];
    },
  };
}

/** A reporter posting to GitLab at `url` (default {@link GITLAB_URL}). */
export function gitlabReporter(project: string, token: TokenSource, opts: HttpReporterOptions & { url?: string } = {}): HttpStatusReporter {
  return new HttpStatusReporter(gitlabDialect(opts.url ?? GITLAB_URL, project), token, opts);
}
