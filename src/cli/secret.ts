// `amphi secret set ENV APP/NAME`: writes one secret value, read from stdin, into `environments/<env>.secrets.yaml`
// (SOPS, age). A new file is encrypted to the recipients `.sops.yaml` names for it (public keys: no identity
// needed); adding to an existing file needs an identity (AMPHI_AGE_KEY / AMPHI_AGE_KEY_FILE), as `sops set` does:
// the values share one data key and the MAC covers them all. The value never goes through argv or a log.
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { InputError, formatProblem } from "../model/index.js";
import { SECRETS_SUFFIX } from "../config/discover.js";
import { sopsCreationRule, type CreationRule } from "../config/secrets.js";
import { readIdentity } from "../secrets/identity.js";
import { SopsError, dataKeyOf, decryptSops, encryptSops, formatSops, keptPlainBy, parseSops, recipientCheck, resealSops, type SopsFile } from "../secrets/sops.js";
import { EXIT, runAction, type Io } from "./common.js";

const NAME = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([A-Za-z_][A-Za-z0-9_]*)$/;

/** Registers `amphi secret set` on the program. */
export function secretCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const secret = program.command("secret").description("edit the encrypted secrets of an environment (environments/<env>.secrets.yaml, SOPS with age)");
  secret
    .command("set")
    .description("set APP/NAME in ENV's secrets file to the value read from stdin (one trailing newline is dropped)")
    .argument("<env>", "environment (its file is environments/<env>.yaml)")
    .argument("<name>", "APP/NAME: the app and its env var, e.g. billing/API_KEY")
    .option("--repo <dir>", "config repo directory (default: current directory)")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (env, name, opts) => {
      setCode(await runAction(io, opts.debug, () => setSecret(io, env, name, opts.repo)));
    });
}

async function setSecret(io: Io, env: string, name: string, repo: string | undefined): Promise<number> {
  const m = NAME.exec(name);
  if (!m) throw new InputError(`secret name "${name}" must be APP/NAME: an app name (a DNS label) and an env var name, e.g. billing/API_KEY`);
  const [app, varName] = [m[1]!, m[3]!];
  const dir = resolve(io.cwd, repo ?? ".");
  if (!existsSync(resolve(dir, "environments", `${env}.yaml`))) throw new InputError(`environments/${env}.yaml does not exist in ${dir}`);
  const rel = `environments/${env}${SECRETS_SUFFIX}`;
  const path = resolve(dir, rel);
  if (!io.stdin) throw new InputError("no stdin to read the value from");
  const value = (await io.stdin()).replace(/\r?\n$/, "");
  // An empty stdin is far more often a pipe that failed than a secret meant to be empty: it would replace the value.
  if (value === "") throw new InputError(`${name}: the value read from stdin is empty; nothing was changed in environments/${env}${SECRETS_SUFFIX}`);
  const existing = existsSync(path) ? await openExisting(io, rel, readFileSync(path, "utf8")) : null;
  const rule = existing ? null : await creationRule(dir, rel);
  // A value the file's rules (unencrypted_suffix, encrypted_regex, …) keep plain would be written in plain text, as
  // sops writes it; encrypting it anyway would make a file sops cannot decrypt. A secret is never written plain.
  const plainBy = keptPlainBy(existing?.file.rest ?? rule!.settings, [app, varName]);
  if (plainBy !== null) throw new InputError(`${rel} /${app}/${varName}: the ${existing ? "file's" : ".sops.yaml rule's"} ${plainBy} keeps this value in plain text (sops would not encrypt it); amphi writes secrets only encrypted: use a name the rule encrypts`);
  const values = existing?.values ?? {};
  const existed = values[app]?.[varName] !== undefined;
  values[app] = { ...values[app], [varName]: value };
  // An existing file keeps its data key, recipients and the rest of its sops section (other tools' recipients too).
  const file = existing ? resealSops(existing.file, values, existing.dataKey) : (await encryptSops(values, rule!.recipients, undefined, new Date(), rule!.settings)).file;
  // A whole new file, then one rename: a half-written secrets file would lose every value in it.
  // The file keeps its mode (a user's 0600 stays 0600); no .tmp is left in the repo when the write fails.
  const mode = existing ? statSync(path).mode & 0o777 : 0o644;
  try {
    writeFileSync(`${path}.tmp`, formatSops(file), { mode });
    renameSync(`${path}.tmp`, path);
  } catch (e) {
    rmSync(`${path}.tmp`, { force: true });
    throw e;
  }
  const n = file.age.length;
  io.err(`amphi: ${rel} /${app}/${varName}: ${existed ? "changed" : "added"} (encrypted to ${n} age recipient${n === 1 ? "" : "s"}${keptNote(file)})\n`);
  return EXIT.ok;
}

/** An existing file with its data key and decrypted values. */
interface Opened {
  file: SopsFile;
  values: Record<string, Record<string, string>>;
  dataKey: Buffer;
}

/** ", pgp and kms recipients kept" when the file has non-age recipients amphi carried over. */
function keptNote(file: SopsFile): string {
  const kinds = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault"].filter((k) => Array.isArray(file.rest[k]) && (file.rest[k] as unknown[]).length > 0);
  return kinds.length === 0 ? "" : `; ${kinds.join(", ")} recipients kept`;
}

async function openExisting(io: Io, rel: string, text: string): Promise<Opened> {
  try {
    const file = parseSops(text);
    const id = readIdentity(io.env, io.cwd);
    if ("none" in id) throw new SopsError("/sops/age", "adding to an existing secrets file needs its data key: set AMPHI_AGE_KEY or AMPHI_AGE_KEY_FILE");
    if ("error" in id) throw new SopsError("/sops/age", id.error);
    const dataKey = await dataKeyOf(file, id.identities);
    return { file, values: decryptSops(file, dataKey), dataKey };
  } catch (e) {
    if (e instanceof SopsError) throw new InputError(`${rel} ${e.pointer}: ${e.message}`);
    throw e;
  }
}

/** The age recipients and settings `.sops.yaml` gives `rel` (the first creation rule whose path_regex matches, as
 * sops picks). */
async function creationRule(dir: string, rel: string): Promise<CreationRule> {
  const config = resolve(dir, ".sops.yaml");
  const hint = `create ${rel} by listing its recipients in .sops.yaml: creation_rules: [{path_regex: 'environments/.*\\.secrets\\.yaml$', age: 'age1…,age1…'}]`;
  if (!existsSync(config)) throw new InputError(`${rel} does not exist and there is no .sops.yaml; ${hint}`);
  const found = sopsCreationRule(".sops.yaml", readFileSync(config, "utf8"), rel, await recipientCheck());
  if (found === null) throw new InputError(`.sops.yaml has no creation rule for ${rel}; ${hint}`);
  if ("problems" in found) throw new InputError(found.problems.map(formatProblem).join("\n"));
  return found;
}
