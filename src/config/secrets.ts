// Secret env values of one environment's placements, at load: a value written in the spec (`secret: true` with a
// `value`) becomes its token under the environment's plain-text digest key, and one left out must have an
// encrypted value in `environments/<env>.secrets.yaml` (checked without decrypting: the file's structure and
// that `/app/NAME` is there); it reads "(secret)" until unlocked with an identity (src/secrets/unlock.ts).
// After this no plaintext is left in the environment's placements: only in `env.secrets.clear`.
import { SECRET_PLACEHOLDER, plainDigestKey, secretToken, type EnvVarModel, type EnvironmentModel, type Problem } from "../model/index.js";
import { SopsError, parseSops, type SopsFile } from "../secrets/sops.js";
import { SECRETS_SUFFIX } from "./discover.js";
import { fileProblem } from "./problems.js";
import { parseYaml } from "./yaml.js";

/** The secrets file of an environment as read from the repo. */
export interface SecretsText {
  file: string;
  text: string | null;
  /** Why the file was not read (a symlink out of the repo, a loop): a problem of that file. */
  refused?: string;
}

/** Seals the secret env values of `env`'s placements (see above) and sets `env.secrets`. Returns the problems:
 * a malformed secrets file, a secret with no value in it. */
export function sealSecrets(env: EnvironmentModel, found: SecretsText | null): Problem[] {
  const file = found?.file ?? env.file.replace(/\.yaml$/, SECRETS_SUFFIX);
  const problems: Problem[] = [];
  let sops: SopsFile | null = null;
  if (found?.refused !== undefined) problems.push(fileProblem(file, found.refused, { hint: "amphi reads only files inside the repo" }));
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
        const noFile = found === null || (found.text === null && found.refused === undefined);
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
  const state = first === undefined ? { kind: "none" as const } : { kind: "locked" as const, message: `${file} ${first}: no age identity to decrypt it: set AMPHI_AGE_KEY or AMPHI_AGE_KEY_FILE`, pointer: first };
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

/** The age recipients `.sops.yaml` gives a new file at `target` (repo-relative), with the pointer they were written
 * at: the first creation rule whose `path_regex` matches and that names age recipients (as sops picks; rules
 * without `path_regex` match every file). `null` when no rule does. Problems, located in `file`, when the config is
 * not YAML, a field has the wrong type or an invalid regular expression, or the chosen rule names a recipient that
 * `invalid` (age's own check) refuses: every such problem, or the recipients. */
export function sopsCreationRecipients(file: string, text: string, target: string, invalid: (recipient: string) => string | null): { recipients: string[] } | { problems: Problem[] } | null {
  if (text.split("\n").every((l) => /^\s*(#.*)?$/.test(l))) return null; // empty, or comments only: no rules
  const parsed = parseYaml(file, text);
  if (Array.isArray(parsed)) return { problems: parsed };
  const { doc, loc } = parsed;
  if (!isMap(doc)) return { problems: [loc.problem("", "expected a mapping with creation_rules")] };
  const rules = doc["creation_rules"];
  if (rules === undefined || rules === null) return null;
  if (!Array.isArray(rules)) return { problems: [loc.problem("/creation_rules", "expected a list of rules ({path_regex, age})")] };
  const problems: Problem[] = [];
  let found: string[] | null = null;
  rules.forEach((rule, i) => {
    const at = `/creation_rules/${i}`;
    if (!isMap(rule)) return void problems.push(loc.problem(at, "expected a mapping ({path_regex, age})"));
    const regex = rule["path_regex"];
    let matches = true;
    if (regex !== undefined && regex !== null) {
      if (typeof regex !== "string") return void problems.push(loc.problem(`${at}/path_regex`, "expected a string (a regular expression)"));
      try {
        matches = new RegExp(regex).test(target);
      } catch (e) {
        return void problems.push(loc.problem(`${at}/path_regex`, `invalid regular expression: ${(e as Error).message}`));
      }
    }
    const age = rule["age"];
    const list = typeof age === "string" ? age.split(",") : Array.isArray(age) && age.every((r) => typeof r === "string") ? (age as string[]) : age === undefined || age === null ? [] : null;
    if (list === null) return void problems.push(loc.problem(`${at}/age`, "expected age recipients: a comma-separated string or a list of strings"));
    const recipients = list.map((r) => r.trim()).filter((r) => r !== "");
    if (found !== null || !matches || recipients.length === 0) return;
    found = recipients;
    for (const r of recipients) {
      const why = invalid(r);
      if (why !== null) problems.push(loc.problem(`${at}/age`, `"${r}" is not an age recipient (${why})`));
    }
  });
  if (problems.length > 0) return { problems };
  return found === null ? null : { recipients: found };
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
