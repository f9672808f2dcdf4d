// Secret values as the rest of amphi sees them: never the value, a token. A token is a keyed digest
// (`hmac-sha256:<32 hex>`) that stands in for the value in every desired resource, so plans, rendered files,
// run records, state.json and annotations only ever hold it; the plaintext lives in the environment's
// keyring (`EnvSecrets.clear`) and is put in only where a value must arrive: the Secret amphi applies, the
// env file it sends to a host on stdin. Why keyed: a plain sha256 of a short secret can be brute-forced.
import { createHash, createHmac, hkdfSync } from "node:crypto";

/** What a secret value reads as where it is not known (no identity to decrypt it) or must not be shown. */
export const SECRET_PLACEHOLDER = "(secret)";

/** Annotation holding a keyed digest of an app's secret values: on its Secret, and on its pod template so
 * pods roll when a value changes. */
export const SECRET_DIGEST_ANNOTATION = "amphi.dev/secret-digest";

const TOKEN = /^hmac-sha256:[0-9a-f]{32}$/;

/** Whether `value` is a secret token (a keyed digest standing for a value). */
export function isSecretToken(value: string): boolean {
  return TOKEN.test(value);
}

/** The token of `value` under `key`. */
export function secretToken(key: Buffer, value: string): string {
  return `hmac-sha256:${createHmac("sha256", key).update(value, "utf8").digest("hex").slice(0, 32)}`;
}

/** The digest key of an environment's secrets file, derived from its SOPS data key: only holders of an age
 * identity of the file can compute it, and every recipient computes the same one. */
export function fileDigestKey(dataKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", dataKey, Buffer.alloc(0), "amphi secret digest v1", 32));
}

/** The digest key of secret values written in plain text in a spec (`secret: true` with a `value`): derived
 * from the environment's name, so anyone with the repo can compute it — as anyone with the repo has the value. */
export function plainDigestKey(env: string): Buffer {
  return createHash("sha256").update(`amphi plaintext secret digest v1\0${env}`).digest();
}

/** The keyed digest of several tokens (an app's secret env), for the pod template annotation: a token itself
 * when there is one, the placeholder when any is unknown. */
export function combinedToken(tokens: ReadonlyArray<readonly [string, string]>): string {
  if (tokens.some(([, t]) => !isSecretToken(t))) return SECRET_PLACEHOLDER;
  const h = createHash("sha256");
  for (const [name, t] of [...tokens].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) h.update(`${name}=${t}\n`);
  return `hmac-sha256:${h.digest("hex").slice(0, 32)}`;
}

/** An environment's secrets: where they are and what amphi could do with them. */
export interface EnvSecrets {
  /** Repo-relative path of `environments/<env>.secrets.yaml`, or null when the environment has none. */
  file: string | null;
  /** The file's text (encrypted), read at load; null without a file. */
  text: string | null;
  /** Token → plaintext of every value amphi holds in clear (plain-text spec values at load, decrypted file
   * values after unlocking). Never printed, never persisted. */
  clear: Map<string, string>;
  /** `none`: nothing comes from a file; `locked`: file values not decrypted (no identity), they read
   * "(secret)" and count as unchanged (`pointer`: the first value the file must open, `/app/NAME`); `unlocked`:
   * decrypted; `error`: the located reason nothing may be done. */
  state: { kind: "none" } | { kind: "locked"; message: string; pointer: string } | { kind: "unlocked" } | { kind: "error"; message: string };
}

/** The plaintext a desired secret value stands for: a token's from `secrets`, undefined when it is not known (the
 * placeholder, or a token with no plaintext here). Any other value comes from a model built in code, not loaded
 * (tests): it is the value. Shared by every place a value must arrive (a host's env file, a Secret). */
export function revealSecret(secrets: EnvSecrets | undefined, value: string): string | undefined {
  if (isSecretToken(value)) return secrets?.clear.get(value);
  return value === SECRET_PLACEHOLDER ? undefined : value;
}
