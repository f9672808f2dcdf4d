// Secret env values of one environment's placements, at load: a value written in the spec (`secret: true` with a
// `value`) becomes its token under the environment's plain-text digest key, and one left out must have an
// encrypted value in `environments/<env>.secrets.yaml` (checked without decrypting: the file's structure and
// that `/app/NAME` is there); it reads "(secret)" until unlocked with an identity (src/secrets/unlock.ts).
// After this no plaintext is left in the environment's placements: only in `env.secrets.clear`.
import { SECRET_PLACEHOLDER, plainDigestKey, secretToken, type EnvVarModel, type EnvironmentModel, type Problem } from "../model/index.js";
import { SopsError, parseSops, type SopsFile } from "../secrets/sops.js";
import { SECRETS_SUFFIX } from "./discover.js";

/** The secrets file of an environment as read from the repo. */
export interface SecretsText {
  file: string;
  text: string | null;
}

/** Seals the secret env values of `env`'s placements (see above) and sets `env.secrets`. Returns the problems:
 * a malformed secrets file, a secret with no value in it. */
export function sealSecrets(env: EnvironmentModel, found: SecretsText | null): Problem[] {
  const file = found?.file ?? env.file.replace(/\.yaml$/, SECRETS_SUFFIX);
  const problems: Problem[] = [];
  let sops: SopsFile | null = null;
  if (found?.text != null) {
    try {
      sops = parseSops(found.text);
    } catch (e) {
      if (!(e instanceof SopsError)) throw e;
      problems.push(problem(file, e.pointer, e.message));
    }
  }
  const clear = new Map<string, string>();
  const key = plainDigestKey(env.name);
  const wanted: string[] = [];
  const seal = (app: string, vars: EnvVarModel[]): EnvVarModel[] =>
    vars.map((v) => {
      if (!v.secret) return v;
      if (v.fromFile) {
        wanted.push(`/${app}/${v.name}`);
        const noFile = found === null || found.text === null;
        if (noFile) problems.push(missing(file, app, v.name, env.name, true));
        else if (sops && sops.values[app]?.[v.name] === undefined) problems.push(missing(file, app, v.name, env.name, false));
        return { ...v, value: SECRET_PLACEHOLDER };
      }
      const token = secretToken(key, v.value);
      clear.set(token, v.value);
      return { ...v, value: token };
    });
  for (const p of env.placements) {
    if (p.type === "cluster") p.container = { ...p.container, env: seal(p.app, p.container.env) };
    else p.package = { ...p.package, env: seal(p.app, p.package.env) };
  }
  const first = [...new Set(wanted)].sort()[0];
  const state = first === undefined ? { kind: "none" as const } : { kind: "locked" as const, message: `${file} ${first}: no age identity to decrypt it: set AMPHI_AGE_KEY or AMPHI_AGE_KEY_FILE` };
  env.secrets = { file: found ? file : null, text: found?.text ?? null, clear, state };
  return problems;
}

function problem(file: string, pointer: string, message: string): Problem {
  return { file, line: 0, column: 0, pointer, message, severity: "error" };
}

function missing(file: string, app: string, name: string, env: string, noFile: boolean): Problem {
  const what = noFile ? `${file} does not exist` : "it has no value there";
  const p = problem(file, `/${app}/${name}`, `secret ${name} of app ${app} comes from the secrets file, but ${what}`);
  return { ...p, hint: `add it: amphi secret set ${env} ${app}/${name} < value-file` };
}
