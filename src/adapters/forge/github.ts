// GitHub commit statuses: `POST {api}/repos/{owner}/{repo}/statuses/{sha}` with a Bearer token; 201 on
// success, 422 for a description over 140 characters (descriptions are cut before sending).
import type { CommitStatus } from "../../health/status.js";
import { HttpStatusReporter, type Dialect, type HttpReporterOptions, type TokenSource } from "./http.js";

/** GitHub's public API; GitHub Enterprise Server is `https://<host>/api/v3`. */
export const GITHUB_API = "https://api.github.com";

/** The GitHub dialect for `owner/repo` at API base `api`. */
export function githubDialect(api: string, repository: string): Dialect {
  const base = `${trimSlash(api)}/repos/${repoPath(repository)}/statuses/`;
  return {
    provider: "github",
    url: (sha) => base + sha,
    headers: (token): Record<string, string> => ({
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    }),
    body: githubBody,
  };
}

/** GitHub's status body, which Gitea and Forgejo take as it is. */
export function githubBody(s: CommitStatus): object {
  return { state: s.state, description: s.description, context: s.context, ...(s.targetUrl ? { target_url: s.targetUrl } : {}) };
}

/** A reporter posting to GitHub (`api` default: {@link GITHUB_API}). */
export function githubReporter(repository: string, token: TokenSource, opts: HttpReporterOptions & { api?: string } = {}): HttpStatusReporter {
  return new HttpStatusReporter(githubDialect(opts.api ?? GITHUB_API, repository), token, opts);
}

/** `owner/repo` with each part URL-encoded. */
export function repoPath(repository: string): string {
  return repository.split("/").map(encodeURIComponent).join("/");
}

/** A URL without trailing slashes. */
export function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

/** An instance URL with its API path (`/api/v1`) appended unless it already ends with it. */
export function withApiPath(url: string, apiPath: string): string {
  const u = trimSlash(url);
  return u.endsWith(apiPath) ? u : `${u}${apiPath}`;
}
