// SOPS files with age recipients (the format Flux users edit with `sops`): each value `ENC[AES256_GCM,data:…,
// iv:…,tag:…,type:str]` under one random 32-byte data key, that key age-encrypted (armored) to every recipient
// in `sops.age[]`, and a MAC (SHA-512 of the plaintext values in file order, upper-case hex, encrypted with
// the data key and `sops.lastmodified` as additional data) so a removed, swapped or edited value is caught.
// Each value's additional data is its path, `app:NAME:`, so a value moved to another key does not decrypt.
// amphi's files hold one level of apps and one of names: `billing: {API_KEY: ENC[…]}`. Everything else of the
// `sops` section (pgp/kms/gcp_kms/azure_kv/hc_vault recipients, suffix and regex rules, version) is kept as it was
// read and written back in its order: those recipients hold the same data key, so they keep opening the file.
// Which values are encrypted follows the file's unencrypted_suffix / encrypted_suffix / unencrypted_regex /
// encrypted_regex as sops decides it (sops.go shouldBeEncrypted, over every key of the value's path): a value
// those rules keep plain is plain in the file and, unless `mac_only_encrypted`, in the MAC. Refused with a
// SopsError naming the key: `key_groups` (the data key split across groups with Shamir secret sharing) and the
// comment rules (js-yaml keeps no comments, so amphi could not tell which values sops encrypts).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { dump, load } from "js-yaml";

/** One age recipient of a SOPS file and the data key encrypted to it. */
export interface SopsAgeKey {
  recipient: string;
  enc: string;
}

/** A parsed SOPS file: app → variable name → encrypted value, and the `sops` metadata. */
export interface SopsFile {
  values: Record<string, Record<string, string>>;
  age: SopsAgeKey[];
  lastmodified: string;
  mac: string;
  /** Other keys of the `sops` section, kept as they were read. */
  rest: Record<string, unknown>;
  /** The order of the `sops` section's keys as read (absent: age, lastmodified, mac, then `rest`). */
  order?: string[];
}

/** A problem with a SOPS file or one of its values: `pointer` is `/app/NAME` or `/sops/...` or "" . */
export class SopsError extends Error {
  constructor(
    readonly pointer: string,
    message: string,
  ) {
    super(message);
    this.name = "SopsError";
  }
}

const ENC = /^ENC\[AES256_GCM,data:([A-Za-z0-9+/=]*),iv:([A-Za-z0-9+/=]+),tag:([A-Za-z0-9+/=]+),type:([a-z]+)\]$/;
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The keys of a `sops` section (and of a `.sops.yaml` creation rule) that decide which values sops encrypts. */
export const CRYPT_RULES = ["unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex"] as const;
/** The comment rules of sops, which amphi refuses (it keeps no comments). */
export const COMMENT_RULES = ["unencrypted_comment_regex", "encrypted_comment_regex"] as const;

/** Null when sops encrypts the value at `path` (its keys, e.g. [app, NAME]) under the rules of `meta` (a file's
 * `sops` section), else the rule that keeps it plain (`unencrypted_suffix "_unencrypted"`). As sops.go's
 * shouldBeEncrypted: the rules apply in this order, each to any key of the path. */
export function keptPlainBy(meta: Record<string, unknown>, path: readonly string[]): string | null {
  const rule = (k: string): string | null => (typeof meta[k] === "string" && meta[k] !== "" ? (meta[k] as string) : null);
  let why: string | null = null;
  const us = rule("unencrypted_suffix");
  if (us !== null && path.some((k) => k.endsWith(us))) why = `unencrypted_suffix "${us}"`;
  const es = rule("encrypted_suffix");
  if (es !== null) why = path.some((k) => k.endsWith(es)) ? null : `encrypted_suffix "${es}" (no key of the path ends with it)`;
  const ur = rule("unencrypted_regex");
  if (ur !== null && path.some((k) => new RegExp(ur).test(k))) why = `unencrypted_regex "${ur}"`;
  const er = rule("encrypted_regex");
  if (er !== null) why = path.some((k) => new RegExp(er).test(k)) ? null : `encrypted_regex "${er}" (no key of the path matches it)`;
  return why;
}

/** Why a creation rule cannot be used when it names more than one encryption or comment rule (sops refuses that
 * too), else null. A file's own section with several is read as sops reads it: keptPlainBy applies them in its order. */
export function ruleConflict(meta: Record<string, unknown>): string | null {
  const all = [...CRYPT_RULES, ...COMMENT_RULES];
  const set = all.filter((k) => meta[k] !== undefined && meta[k] !== null && meta[k] !== "");
  return set.length > 1 ? `cannot use more than one of ${all.join(", ")} in one rule (sops refuses it too): it names ${set.join(", ")}` : null;
}

/** Problems with the encryption rules of `meta` (a `sops` section or a creation rule), as [key, message]: a rule
 * that is not a string or not a valid regular expression, or a comment rule. */
export function cryptRuleProblems(meta: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const k of CRYPT_RULES) {
    const v = meta[k];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string") out.push([k, "expected a string"]);
    else if (k.endsWith("_regex")) {
      try {
        new RegExp(v);
      } catch (e) {
        out.push([k, `invalid regular expression: ${(e as Error).message}`]);
      }
    }
  }
  for (const k of COMMENT_RULES) {
    if (meta[k] !== undefined && meta[k] !== null && meta[k] !== "") out.push([k, "amphi keeps no YAML comments, so it cannot tell (or keep) which values this comment rule encrypts; edit this file with sops, or drop the rule"]);
  }
  return out;
}

/** Parses the text of a SOPS file. Throws SopsError naming the pointer of what is malformed. */
export function parseSops(text: string): SopsFile {
  let doc: unknown;
  try {
    doc = load(text);
  } catch (e) {
    throw new SopsError("", `invalid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!isMap(doc)) throw new SopsError("", "expected a mapping of apps to encrypted values, with a sops section");
  const { sops, ...apps } = doc;
  if (!isMap(sops)) throw new SopsError("/sops", "missing sops section: the file is not SOPS-encrypted");
  const { age, lastmodified, mac, ...rest } = sops;
  const groups = rest["key_groups"];
  if (Array.isArray(groups) && groups.length > 0) {
    const t = rest["shamir_threshold"];
    throw new SopsError("/sops/key_groups", `the data key is split across ${groups.length} key groups (Shamir secret sharing${typeof t === "number" ? `, threshold ${t}` : ""}); amphi opens only files whose recipients hold the whole data key (age recipients listed directly): edit this file with sops`);
  }
  const [bad] = cryptRuleProblems(rest);
  if (bad) throw new SopsError(`/sops/${bad[0]}`, bad[1]);
  if (!Array.isArray(age) || age.length === 0) throw new SopsError("/sops/age", "no age recipients");
  const keys = age.map((k, i) => {
    if (!isMap(k) || typeof k["recipient"] !== "string" || typeof k["enc"] !== "string") throw new SopsError(`/sops/age/${i}`, "expected {recipient, enc}");
    return { recipient: k["recipient"], enc: k["enc"] };
  });
  if (typeof lastmodified !== "string" && !(lastmodified instanceof Date)) throw new SopsError("/sops/lastmodified", "missing");
  if (typeof mac !== "string") throw new SopsError("/sops/mac", "missing");
  const values: SopsFile["values"] = {};
  for (const [app, vars] of Object.entries(apps)) {
    if (!isMap(vars)) throw new SopsError(`/${app}`, "expected a mapping of variable names to encrypted values");
    values[app] = {};
    for (const [name, v] of Object.entries(vars)) {
      const plainBy = keptPlainBy(rest, [app, name]);
      if (plainBy === null && (typeof v !== "string" || !ENC.test(v))) throw new SopsError(`/${app}/${name}`, "not an encrypted value (ENC[AES256_GCM,…]); plain values do not belong in a secrets file");
      if (plainBy !== null && typeof v !== "string") throw new SopsError(`/${app}/${name}`, `expected a string (a value the file's ${plainBy} keeps plain)`);
      if (plainBy !== null && ENC.test(v as string)) throw new SopsError(`/${app}/${name}`, `the file's ${plainBy} keeps this value plain, but it is encrypted: sops would not decrypt it (and its MAC would not match)`);
      values[app][name] = v as string;
    }
  }
  const modified = lastmodified instanceof Date ? rfc3339(lastmodified) : lastmodified;
  return { values, age: keys, lastmodified: modified, mac, rest, order: Object.keys(sops) };
}

/** age's library, loaded by the first function that encrypts or decrypts: reading a config repo (which parses
 * secrets files without decrypting them) never loads it (~60 modules, a fifth of a small plan's start-up). */
const age = () => import("age-encryption");

/** A check of age recipients (loads age's library): why `recipient` is not one amphi can encrypt to, or null. */
export async function recipientCheck(): Promise<(recipient: string) => string | null> {
  const { Encrypter } = await age();
  return (recipient) => {
    try {
      new Encrypter().addRecipient(recipient);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  };
}

/** Unwraps the data key with `identities` (age secret keys). Throws SopsError when none of them is a recipient. */
export async function dataKeyOf(file: SopsFile, identities: readonly string[]): Promise<Buffer> {
  const { Decrypter, armor } = await age();
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  const reasons: string[] = [];
  for (const k of file.age) {
    try {
      const key = Buffer.from(await d.decrypt(armor.decode(k.enc)));
      if (key.length !== 32) throw new Error(`data key of ${key.length} bytes, not 32`);
      return key;
    } catch (e) {
      reasons.push((e as Error).message);
    }
  }
  const recipients = file.age.map((k) => k.recipient).join(", ");
  throw new SopsError("/sops/age", `the age identity is not one of the file's recipients (${recipients}): ${reasons[0] ?? "no key"}`);
}

/** Decrypts every value and checks the MAC. Throws SopsError at the pointer of a value that does not decrypt,
 * or at /sops/mac when the values were changed, removed or reordered. */
export function decryptSops(file: SopsFile, dataKey: Buffer): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  const macOnly = file.rest["mac_only_encrypted"] === true;
  const plains: string[] = [];
  for (const [app, vars] of Object.entries(file.values)) {
    out[app] = {};
    for (const [name, enc] of Object.entries(vars)) {
      const keptPlain = keptPlainBy(file.rest, [app, name]) !== null;
      const plain = keptPlain ? enc : decryptValue(enc, dataKey, `${app}:${name}:`, `/${app}/${name}`);
      if (!keptPlain || !macOnly) plains.push(plain);
      out[app][name] = plain;
    }
  }
  const mac = decryptValue(file.mac, dataKey, file.lastmodified, "/sops/mac");
  if (mac.toUpperCase() !== macOf(plains, macOnly)) throw new SopsError("/sops/mac", "MAC mismatch: the file's values were changed without its key (tampered)");
  return out;
}

/** Encrypts `values` (app → name → plaintext) into a new SOPS file for `recipients` under `dataKey` (a new random
 * one when absent). `settings`: the encryption rule and mac_only_encrypted of the creation rule (sops's default
 * when it names none: unencrypted_suffix "_unencrypted"). An existing file is changed with resealSops, which keeps
 * its other recipients. */
export async function encryptSops(values: Record<string, Record<string, string>>, recipients: readonly string[], dataKey?: Buffer, now = new Date(), settings: Record<string, unknown> = { unencrypted_suffix: "_unencrypted" }): Promise<{ file: SopsFile; dataKey: Buffer }> {
  const key = dataKey ?? randomBytes(32);
  const { Encrypter, armor } = await age();
  const keys: SopsAgeKey[] = [];
  for (const recipient of recipients) {
    const e = new Encrypter();
    e.addRecipient(recipient);
    keys.push({ recipient, enc: armor.encode(await e.encrypt(key)) });
  }
  const empty: SopsFile = { values: {}, age: keys, lastmodified: "", mac: "", rest: { ...settings, version: "3.9.0" } };
  return { file: resealSops(empty, values, key, now), dataKey: key };
}

/** `file` with its values replaced by `values` (app → name → plaintext) encrypted under its `dataKey` (but those its
 * rules keep plain, as sops writes them: see keptPlainBy), a new MAC and `lastmodified`; every recipient (age or
 * other) and every other key of its `sops` section is kept as it was. */
export function resealSops(file: SopsFile, values: Record<string, Record<string, string>>, dataKey: Buffer, now = new Date()): SopsFile {
  const macOnly = file.rest["mac_only_encrypted"] === true;
  const plains: string[] = [];
  const enc: SopsFile["values"] = {};
  for (const [app, vars] of Object.entries(values)) {
    enc[app] = {};
    for (const [name, plain] of Object.entries(vars)) {
      const keptPlain = keptPlainBy(file.rest, [app, name]) !== null;
      if (!keptPlain || !macOnly) plains.push(plain);
      enc[app][name] = keptPlain ? plain : encryptValue(plain, dataKey, `${app}:${name}:`);
    }
  }
  const lastmodified = rfc3339(now);
  const mac = encryptValue(macOf(plains, macOnly), dataKey, lastmodified);
  return { ...file, values: enc, lastmodified, mac };
}

/** The YAML text of a SOPS file, as `sops` writes it (4-space indentation, the sops section last, its keys in the
 * order they were read). */
export function formatSops(file: SopsFile): string {
  const own: Record<string, unknown> = { age: file.age, lastmodified: file.lastmodified, mac: file.mac };
  const order = [...new Set([...(file.order ?? []), ...Object.keys(own), ...Object.keys(file.rest)])];
  const sops = Object.fromEntries(order.map((k) => [k, k in own ? own[k] : file.rest[k]]));
  return dump({ ...file.values, sops }, { indent: 4, lineWidth: -1, noRefs: true });
}

// SOPS starts the hash with these 32 bytes when `mac_only_encrypted` is set (so that such a MAC never equals one
// over all values); the constant is part of the file format (getsops/sops sops.go, MACOnlyEncryptedInitialization).
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69", "hex");

/** The MAC SOPS keeps for these plaintexts in file order: SHA-512, upper-case hex (callers leave out the values kept
 * plain when `mac_only_encrypted`; then the hash starts with the format's fixed first bytes). */
export function macOf(plains: Iterable<string>, macOnlyEncrypted: boolean): string {
  const hash = createHash("sha512");
  if (macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  for (const p of plains) hash.update(p, "utf8");
  return hash.digest("hex").toUpperCase();
}

function encryptValue(plain: string, key: Buffer, aad: string): string {
  const iv = randomBytes(32);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(aad, "utf8"));
  const data = Buffer.concat([c.update(plain, "utf8"), c.final()]);
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${c.getAuthTag().toString("base64")},type:str]`;
}

/** Decrypts one `ENC[AES256_GCM,…,type:str]` value with its additional data (`a:b:` for the value at a/b, the
 * `lastmodified` text for the MAC). Throws SopsError at `pointer`. */
export function decryptValue(enc: string, key: Buffer, aad: string, pointer: string): string {
  const m = ENC.exec(enc);
  if (!m) throw new SopsError(pointer, "not an encrypted value (ENC[AES256_GCM,…])");
  const [, data, iv, tag, type] = m as unknown as [string, string, string, string, string];
  if (type !== "str") throw new SopsError(pointer, `encrypted value of type ${type}; amphi reads strings only`);
  try {
    const d = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
    d.setAAD(Buffer.from(aad, "utf8"));
    d.setAuthTag(Buffer.from(tag, "base64"));
    return Buffer.concat([d.update(Buffer.from(data, "base64")), d.final()]).toString("utf8");
  } catch {
    throw new SopsError(pointer, "does not decrypt: the ciphertext was tampered with, moved to another key, or encrypted under another data key");
  }
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
