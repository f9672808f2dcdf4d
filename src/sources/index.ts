// Sources of the GitOps loop: where the config repo comes from and which commit is reconciled.
// In: a local directory (`--repo`) or a remote URL (`--url`) and a branch. Out: snapshots — one commit
// SHA (or, for a plain directory, the files as they are) readable as a ConfigSource — and change events.

export type { RepoSource, Snapshot } from "../ports/sources.js";
export { LocalSource, openLocalSource } from "./local.js";
export { RemoteSource, mirrorDir } from "./remote.js";
export { redactText, redactUrl } from "../adapters/git/redact.js";
