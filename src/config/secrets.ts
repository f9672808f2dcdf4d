// Secret env values of one environment's placements, at load: a value written in the spec (`secret: true` with a
// `value`) becomes its token under the environment's plain-text digest key, and one left out must have an
// encrypted value in `environments/<env>.secrets.yaml` (checked without decrypting: the file's structure and
// that `/app/NAME` is there); it reads "(secret)" until unlocked with an identity (src/secrets/unlock.ts).
// After this no plaintext is left in the environment's placements: only in `env.secrets.clear`.
import { SECRET_PLACEHOLDER, plainDigestKey, secretToken, type EnvVarModel, type EnvironmentModel, type Problem } from "../model/index.js";
import { CRYPT_RULES, SopsError, cryptRuleProblems, parseSops, ruleConflict, type SopsFile } from "../secrets/sops.js";
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

/** What `.sops.yaml` gives a new file at `target` (repo-relative): the age recipients and the encryption settings
 * (`unencrypted_suffix`/`encrypted_suffix`/`unencrypted_regex`/`encrypted_regex`, `mac_only_encrypted`; sops's
 * default unencrypted_suffix "_unencrypted" when the rule names none) of the FIRST creation rule whose `path_regex`
 * matches (rules without `path_regex` match every file), as sops picks it — a rule without age recipients is not
 * skipped for a later one. `null` when no rule matches. Problems, located in `file`, when the config is not YAML, a
 * field has the wrong type or an invalid regular expression, or the chosen rule names a recipient `invalid` (age's
 * own check) refuses, or asks for what amphi cannot do without giving the file fewer keys than sops would: other
 * kinds of keys (pgp, kms, …), several key groups (Shamir), a comment rule, more than one encryption rule. */
export function sopsCreationRule(file: string, text: string, target: string, invalid: (recipient: string) => string | null): CreationRule | { problems: Problem[] } | null {
  if (text.split("\n").every((l) => /^\s*(#.*)?$/.test(l))) return null; // empty, or comments only: no rules
  const parsed = parseYaml(file, text);
  if (Array.isArray(parsed)) return { problems: parsed };
  const { doc, loc } = parsed;
  if (!isMap(doc)) return { problems: [loc.problem("", "expected a mapping with creation_rules")] };
  const rules = doc["creation_rules"];
  if (rules === undefined || rules === null) return null;
  if (!Array.isArray(rules)) return { problems: [loc.problem("/creation_rules", "expected a list of rules ({path_regex, age})")] };
  const problems: Problem[] = [];
  let chosen: number | null = null;
  rules.forEach((rule, i) => {
    const at = `/creation_rules/${i}`;
    if (!isMap(rule)) return void problems.push(loc.problem(at, "expected a mapping ({path_regex, age})"));
    const regex = rule["path_regex"];
    let matches = true;
    if (regex !== undefined && regex !== null && regex !== "") {
      if (typeof regex !== "string") return void problems.push(loc.problem(`${at}/path_regex`, "expected a string (a regular expression)"));
      try {
        matches = new RegExp(regex).test(target);
      } catch (e) {
        return void problems.push(loc.problem(`${at}/path_regex`, `invalid regular expression: ${(e as Error).message}`));
      }
    }
    if (ageList(rule["age"]) === null) return void problems.push(loc.problem(`${at}/age`, "expected age recipients: a comma-separated string or a list of strings"));
    if (chosen === null && matches) chosen = i;
  });
  if (problems.length > 0) return { problems };
  if (chosen === null) return null;
  const at = `/creation_rules/${chosen}`;
  const out = ruleRecipients(rules[chosen] as Record<string, unknown>, at, target, (pointer, message) => problems.push(loc.problem(pointer, message)));
  for (const r of out.recipients) {
    const why = invalid(r);
    if (why !== null) problems.push(loc.problem(out.at, `"${r}" is not an age recipient (${why})`));
  }
  const settings = ruleSettings(rules[chosen] as Record<string, unknown>, at, (pointer, message) => problems.push(loc.problem(pointer, message)));
  return problems.length > 0 ? { problems } : { recipients: out.recipients, settings };
}

/** The recipients and settings of the creation rule sops picks for a file. */
export interface CreationRule {
  recipients: string[];
  /** The sops section keys that decide what is encrypted and what the MAC covers, for the new file. */
  settings: Record<string, unknown>;
}

/** Kinds of keys sops encrypts to besides age (in a rule, and in a key group), which amphi cannot. */
const OTHER_KEYS = ["pgp", "kms", "gcp_kms", "hckms", "azure_keyvault", "hc_vault_transit_uri", "hc_vault", "merge"];

/** The age recipients of a chosen rule (directly, or of its one key group) and the pointer they were written at. */
function ruleRecipients(rule: Record<string, unknown>, at: string, target: string, problem: (pointer: string, message: string) => void): { recipients: string[]; at: string } {
  const fewer = (k: string) => `sops would also encrypt ${target} to these ${k} keys; amphi encrypts only to age recipients and would leave them out: create the file with sops (amphi secret set then adds to it)`;
  const present = (v: unknown) => v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0);
  const groups = rule["key_groups"];
  let where = rule;
  let keysAt = at;
  if (present(groups)) {
    if (!Array.isArray(groups) || !groups.every(isMap)) return problem(`${at}/key_groups`, "expected a list of key groups (mappings of key kinds to keys)"), { recipients: [], at };
    // sops splits the data key between several groups (Shamir secret sharing); one group is a plain list of keys.
    if (groups.length > 1) return problem(`${at}/key_groups`, `${groups.length} key groups: sops would split the data key between them (Shamir secret sharing${rule["shamir_threshold"] !== undefined ? `, threshold ${String(rule["shamir_threshold"])}` : ""}); amphi cannot, and will not encrypt to fewer keys: create ${target} with sops`), { recipients: [], at };
    where = groups[0] as Record<string, unknown>;
    keysAt = `${at}/key_groups/0`;
  }
  for (const k of OTHER_KEYS) if (present(where[k])) problem(`${keysAt}/${k}`, fewer(k));
  const list = ageList(where["age"]);
  if (list === null) return problem(`${keysAt}/age`, "expected age recipients: a comma-separated string or a list of strings"), { recipients: [], at };
  const recipients = list.map((r) => r.trim()).filter((r) => r !== "");
  if (recipients.length === 0) problem(keysAt, `this is the first creation rule that matches ${target} (sops uses the first), and it names no age recipients`);
  return { recipients, at: `${keysAt}/age` };
}

/** The encryption settings of a chosen rule for the new file's sops section (sops's default when it names none). */
function ruleSettings(rule: Record<string, unknown>, at: string, problem: (pointer: string, message: string) => void): Record<string, unknown> {
  const conflict = ruleConflict(rule);
  if (conflict !== null) problem(at, conflict);
  for (const [k, message] of cryptRuleProblems(rule)) problem(`${at}/${k}`, message);
  const set = CRYPT_RULES.find((k) => rule[k] !== undefined && rule[k] !== null && rule[k] !== "");
  const settings: Record<string, unknown> = set !== undefined ? { [set]: rule[set] } : { unencrypted_suffix: "_unencrypted" };
  if (rule["mac_only_encrypted"] === true) settings["mac_only_encrypted"] = true;
  return settings;
}

/** A rule's `age`: a comma-separated string or a list of strings ([] when absent); null when it is neither. */
function ageList(age: unknown): string[] | null {
  if (age === undefined || age === null) return [];
  if (typeof age === "string") return age.split(",");
  return Array.isArray(age) && age.every((r) => typeof r === "string") ? (age as string[]) : null;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
