// SOPS files with age recipients (the format Flux users edit with `sops`): each value `ENC[AES256_GCM,data:…,
// iv:…,tag:…,type:str]` under one random 32-byte data key, that key age-encrypted (armored) to every recipient
// in `sops.age[]`, and a MAC (SHA-512 of the plaintext values in file order, upper-case hex, encrypted with
// the data key and `sops.lastmodified` as additional data) so a removed, swapped or edited value is caught.
// Each value's additional data is its path, `app:NAME:`, so a value moved to another key does not decrypt.
// amphi's files hold one level of apps and one of names: `billing: {API_KEY: ENC[…]}`.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { Decrypter, Encrypter, armor } from "age-encryption";
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
      if (typeof v !== "string" || !ENC.test(v)) throw new SopsError(`/${app}/${name}`, "not an encrypted value (ENC[AES256_GCM,…]); plain values do not belong in a secrets file");
      values[app][name] = v;
    }
  }
  const modified = lastmodified instanceof Date ? rfc3339(lastmodified) : lastmodified;
  return { values, age: keys, lastmodified: modified, mac, rest };
}

/** Unwraps the data key with `identities` (age secret keys). Throws SopsError when none of them is a recipient. */
export async function dataKeyOf(file: SopsFile, identities: readonly string[]): Promise<Buffer> {
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
  const hash = createHash("sha512");
  for (const [app, vars] of Object.entries(file.values)) {
    out[app] = {};
    for (const [name, enc] of Object.entries(vars)) {
      const plain = decryptValue(enc, dataKey, `${app}:${name}:`, `/${app}/${name}`);
      hash.update(plain, "utf8");
      out[app][name] = plain;
    }
  }
  const mac = decryptValue(file.mac, dataKey, file.lastmodified, "/sops/mac");
  if (mac.toUpperCase() !== hash.digest("hex").toUpperCase()) throw new SopsError("/sops/mac", "MAC mismatch: the file's values were changed without its key (tampered)");
  return out;
}

/** Encrypts `values` (app → name → plaintext) into a SOPS file for `recipients` under `dataKey` (a new random
 * one when absent: a new file). */
export async function encryptSops(values: Record<string, Record<string, string>>, recipients: readonly string[], dataKey?: Buffer, now = new Date()): Promise<{ file: SopsFile; dataKey: Buffer }> {
  const key = dataKey ?? randomBytes(32);
  const age: SopsAgeKey[] = [];
  for (const recipient of recipients) {
    const e = new Encrypter();
    e.addRecipient(recipient);
    age.push({ recipient, enc: armor.encode(await e.encrypt(key)) });
  }
  const hash = createHash("sha512");
  const enc: SopsFile["values"] = {};
  for (const [app, vars] of Object.entries(values)) {
    enc[app] = {};
    for (const [name, plain] of Object.entries(vars)) {
      hash.update(plain, "utf8");
      enc[app][name] = encryptValue(plain, key, `${app}:${name}:`);
    }
  }
  const lastmodified = rfc3339(now);
  const mac = encryptValue(hash.digest("hex").toUpperCase(), key, lastmodified);
  return { file: { values: enc, age, lastmodified, mac, rest: { unencrypted_suffix: "_unencrypted", version: "3.9.0" } }, dataKey: key };
}

/** The YAML text of a SOPS file, as `sops` writes it (4-space indentation, the sops section last). */
export function formatSops(file: SopsFile): string {
  const sops = { age: file.age, lastmodified: file.lastmodified, mac: file.mac, ...file.rest };
  return dump({ ...file.values, sops }, { indent: 4, lineWidth: -1, noRefs: true });
}

function encryptValue(plain: string, key: Buffer, aad: string): string {
  const iv = randomBytes(32);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(aad, "utf8"));
  const data = Buffer.concat([c.update(plain, "utf8"), c.final()]);
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${c.getAuthTag().toString("base64")},type:str]`;
}

function decryptValue(enc: string, key: Buffer, aad: string, pointer: string): string {
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
