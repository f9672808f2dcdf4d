// PR mode's inputs: the config at base and head (read from Git, no checkout), the files that changed
// between them, and the scope derived from both.
import { ConfigError, type Model } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";
import { loadModel } from "../config/index.js";
import { GitRevSource } from "../adapters/git/rev-source.js";
import { changedPaths } from "../adapters/watch/git-diff.js";
import { prScope, type Scope } from "../reconcile/pr-scope.js";

/** Everything PR mode plans from. */
export interface PrInputs {
  repoDir: string;
  baseSha: string;
  headSha: string;
  model: Model;
  source: ConfigSource;
  scope: Scope;
}

/** Loads head (errors are the user's to fix: they propagate) and base (a base that does not validate or has
 * no config counts as "no environment before": everything is in scope), diffs them and derives the scope. */
export async function loadPrScope(repoDir: string, base: string, head: string, env: string): Promise<PrInputs> {
  const headSrc = new GitRevSource(repoDir, head);
  const baseSrc = new GitRevSource(repoDir, base);
  try {
    const [model, baseSha, headSha] = await Promise.all([loadModel(headSrc), baseSrc.revision(), headSrc.revision()]);
    const baseModel = await loadModel(baseSrc).catch((e: unknown) => {
      if (e instanceof ConfigError) return null;
      throw e;
    });
    const changes = await changedPaths(repoDir, baseSha, headSha, ["apps", "environments"]);
    return { repoDir, baseSha, headSha, model, source: headSrc, scope: prScope(changes, baseModel, model, env) };
  } finally {
    baseSrc.close();
  }
}
