// Unlocking an environment's secrets: its SOPS file decrypted with the age identity from the process environment,
// every file-backed secret of its placements given its token (a keyed digest under a key derived from the file's
// data key), and the plaintexts kept in `env.secrets.clear` for the apply. A missing identity leaves them locked
// (plans show them as "(secret)" and do not compare them; an apply refuses); a wrong identity or a value that
// does not decrypt is the located error that stops everything for that environment.
import { InputError, fileDigestKey, secretToken, type EnvVarModel, type EnvironmentModel, type Model } from "../model/index.js";
import { readIdentity } from "./identity.js";
import { SopsError, dataKeyOf, decryptSops, parseSops } from "./sops.js";

/** Unlocks every environment of `model` that has file-backed secrets (in place). */
export async function unlockSecrets(model: Model, processEnv: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  for (const env of model.environments) await unlockEnv(env, processEnv, cwd);
}

/** Unlocks one environment (see above); a no-op unless its secrets are locked. */
export async function unlockEnv(env: EnvironmentModel, processEnv: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  const s = env.secrets;
  if (!s || s.state.kind !== "locked" || s.file === null || s.text === null) return;
  const first = s.state.pointer;
  const file = s.file;
  const id = readIdentity(processEnv, cwd);
  if ("none" in id) return;
  if ("error" in id) {
    s.state = { kind: "error", message: `${file} ${first}: ${id.error}` };
    return;
  }
  try {
    const file = parseSops(s.text);
    const key = await dataKeyOf(file, id.identities);
    const values = decryptSops(file, key);
    const digestKey = fileDigestKey(key);
    const open = (app: string, vars: EnvVarModel[]): EnvVarModel[] =>
      vars.map((v) => {
        if (!v.fromFile) return v;
        const plain = values[app]?.[v.name];
        if (plain === undefined) throw new SopsError(`/${app}/${v.name}`, "no value in the file");
        const token = secretToken(digestKey, plain);
        s.clear.set(token, plain);
        return { ...v, value: token };
      });
    for (const p of env.placements) {
      if (p.type === "cluster") p.container = { ...p.container, env: open(p.app, p.container.env) };
      else p.package = { ...p.package, env: open(p.app, p.package.env) };
    }
    s.state = { kind: "unlocked" };
  } catch (e) {
    if (!(e instanceof SopsError)) throw e;
    // A key that opens nothing is named at the first value it should have opened.
    const pointer = e.pointer === "/sops/age" ? first : e.pointer;
    s.state = { kind: "error", message: `${file} ${pointer}: ${e.pointer === "/sops/age" ? "cannot decrypt: " : ""}${e.message}` };
  }
}

/** Throws when `env`'s secrets cannot be applied: not decrypted (no identity) or broken. Every apply path calls it
 * before anything changes. */
export function requireSecrets(env: EnvironmentModel): void {
  const st = env.secrets?.state;
  if (st?.kind === "locked" || st?.kind === "error") throw new SecretsError(st.message);
}

/** A secret that stops an environment: its message is located (`environments/prod.secrets.yaml /billing/API_KEY: …`). */
export class SecretsError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = "SecretsError";
  }
}
