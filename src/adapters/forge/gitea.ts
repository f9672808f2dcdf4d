// Gitea and Forgejo commit statuses: GitHub's body at `POST {url}/api/v1/repos/{owner}/{repo}/statuses/{sha}`,
// `Authorization: token <t>`. Their extra `warning` state is not used: amphi's states map one to one.
import { HttpStatusReporter, type Dialect, type HttpReporterOptions, type TokenSource } from "./http.js";
import { githubBody, repoPath, withApiPath } from "./github.js";

/** Gitea's public instance (self-hosted ones must set `status.url`). */
export const GITEA_URL = "https://gitea.com";

/** The API base of a Gitea/Forgejo URL: `https://git.example.com` or `https://git.example.com/api/v1`. */
export function giteaApi(url: string): string {
  return withApiPath(url, "/api/v1");
}

/** The Gitea/Forgejo dialect. */
export function giteaDialect(url: string, repository: string): Dialect {
  const base = `${giteaApi(url)}/repos/${repoPath(repository)}/statuses/`;
  return {
    provider: "gitea",
    url: (sha) => base + sha,
    headers: (token): Record<string, string> => ({ accept: "application/json", ...(token ? { authorization: `token ${token}` } : {}) }),
    body: githubBody,
  };
}

/** A reporter posting to Gitea or Forgejo at `url` (default {@link GITEA_URL}). */
export function giteaReporter(repository: string, token: TokenSource, opts: HttpReporterOptions & { url?: string } = {}): HttpStatusReporter {
  return new HttpStatusReporter(giteaDialect(opts.url ?? GITEA_URL, repository), token, opts);
}
