// The age identity secrets are decrypted with: from AMPHI_AGE_KEY (the key itself, as age-keygen prints it) or
// AMPHI_AGE_KEY_FILE (a path to such a file); never from the config repo, never from a flag (flags show in the
// process list).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** The identities found, none (neither variable set), or why the ones named cannot be used. */
export type IdentityResult = { identities: string[] } | { none: true } | { error: string };

/** Reads the identity from `env` (relative key file paths are resolved against `cwd`). */
export function readIdentity(env: NodeJS.ProcessEnv, cwd: string): IdentityResult {
  const inline = env["AMPHI_AGE_KEY"];
  const path = env["AMPHI_AGE_KEY_FILE"];
  if (inline) return keysIn(inline, "AMPHI_AGE_KEY");
  if (!path) return { none: true };
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), "utf8");
  } catch (e) {
    return { error: `cannot read AMPHI_AGE_KEY_FILE ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  return keysIn(text, `AMPHI_AGE_KEY_FILE ${path}`);
}

function keysIn(text: string, where: string): IdentityResult {
  const identities = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith("AGE-SECRET-KEY-"));
  return identities.length > 0 ? { identities } : { error: `${where} holds no age identity (a line AGE-SECRET-KEY-1…)` };
}
