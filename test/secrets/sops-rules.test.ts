// SOPS's own rules when `amphi secret set` writes a secrets file, checked against what sops does (getsops/sops
// config.go parseCreationRuleForFile and getKeyGroupsFromCreationRule, sops.go shouldBeEncrypted and the MAC of
// Tree.Encrypt), with data keys wrapped and unwrapped by the real `age` CLI:
// - `.sops.yaml`: the FIRST creation rule whose path_regex matches is the one, even when it has no age recipients
//   (a later rule is never used instead); one key group is a list of recipients; several (Shamir), or keys of
//   other kinds, are refused naming the rule, never encrypted to fewer keys; its encryption rule goes into the file.
// - the file's unencrypted_suffix / encrypted_regex … decide which values are encrypted: a value they keep plain
//   (written so by sops) is read, kept plain and covered by the MAC as sops does; setting a secret they would keep
//   plain is refused; key_groups and comment rules in a file are refused naming them.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dump, load } from "js-yaml";
import { run } from "../../src/cli/main.js";
import { dataKeyOf, decryptSops, decryptValue, parseSops, SopsError } from "../../src/secrets/sops.js";
import { ageDecrypt, ageEncrypt, ageKeygen, noAge } from "./support.js";

const SECRETS = "environments/staging.secrets.yaml";
let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), `amphi-sops-rules-${process.pid}-`));
  mkdirSync(join(dir, "environments"));
  writeFileSync(join(dir, "environments/staging.yaml"), "name: staging\n");
});
after(() => rmSync(dir, { recursive: true, force: true }));

const secretKey = (identity: string) => identity.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;

/** `amphi secret set staging <name>` with `value` on stdin (and `identity` for an existing file). */
async function secretSet(name: string, value: string, identity = ""): Promise<{ code: number; err: string }> {
  let err = "";
  const env = identity ? { AMPHI_AGE_KEY: identity } : {};
  const code = await run(["secret", "set", "staging", name, "--repo", dir], { out: () => {}, err: (t) => void (err += t), cwd: dir, env, stdin: async () => `${value}\n` });
  return { code, err };
}

/** A fresh repo state: `.sops.yaml` holding `config` (none when null) and no secrets file. */
function withConfig(config: string | null): void {
  rmSync(join(dir, ".sops.yaml"), { force: true });
  if (config !== null) writeFileSync(join(dir, ".sops.yaml"), config);
  rmSync(join(dir, SECRETS), { force: true });
}

const secrets = () => load(readFileSync(join(dir, SECRETS), "utf8")) as Record<string, any>;

test(".sops.yaml: the first matching rule is used even without age recipients; a later matching one never is", { skip: noAge }, async () => {
  const [a, b] = [ageKeygen(), ageKeygen()];
  withConfig(`creation_rules:\n  - path_regex: environments/.*\\.secrets\\.yaml$\n    pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n  - path_regex: environments/\n    age: ${b.recipient}\n`);
  const pgpFirst = await secretSet("billing/API_KEY", "k-1");
  assert.equal(pgpFirst.code, 1, pgpFirst.err);
  assert.match(pgpFirst.err, /\.sops\.yaml:\d+:\d+ \/creation_rules\/0\/pgp: sops would also encrypt environments\/staging\.secrets\.yaml to these pgp keys; amphi encrypts only to age recipients/);
  assert.match(pgpFirst.err, /\/creation_rules\/0: this is the first creation rule that matches environments\/staging\.secrets\.yaml \(sops uses the first\), and it names no age recipients/);
  assert.ok(!existsSync(join(dir, SECRETS)), "not encrypted to the later rule's recipient instead");
  // Both rules name age recipients: only the first rule's.
  withConfig(`creation_rules:\n  - path_regex: \\.secrets\\.yaml$\n    age: ${a.recipient}\n  - age: ${b.recipient}\n`);
  assert.equal((await secretSet("billing/API_KEY", "k-1")).code, 0);
  assert.deepEqual(secrets().sops.age.map((k: { recipient: string }) => k.recipient), [a.recipient]);
  // A rule without path_regex matches every file, so a rule after it is never reached.
  withConfig(`creation_rules:\n  - age: ${b.recipient}\n  - path_regex: \\.secrets\\.yaml$\n    age: ${a.recipient}\n`);
  assert.equal((await secretSet("billing/API_KEY", "k-1")).code, 0);
  assert.deepEqual(secrets().sops.age.map((k: { recipient: string }) => k.recipient), [b.recipient]);
});

test(".sops.yaml key_groups: one group is its age recipients (each opens the file); several groups or other keys are refused", { skip: noAge }, async () => {
  const [a, b] = [ageKeygen(), ageKeygen()];
  withConfig(`creation_rules:\n  - path_regex: \\.secrets\\.yaml$\n    key_groups:\n      - age:\n          - ${a.recipient}\n          - ${b.recipient}\n`);
  const one = await secretSet("billing/API_KEY", "k-1");
  assert.equal(one.code, 0, one.err);
  assert.match(one.err, /encrypted to 2 age recipients/);
  const written = secrets();
  assert.equal(written.sops.key_groups, undefined, "one group is written flat, as sops writes it");
  const keys = written.sops.age.map((k: { enc: string }, i: number) => ageDecrypt(k.enc, [a, b][i]!.identity));
  assert.deepEqual(keys[0], keys[1], "the age CLI unwraps the same data key for both recipients");
  assert.equal(decryptValue(written.billing.API_KEY, keys[0], "billing:API_KEY:", "/billing/API_KEY"), "k-1");
  // Two groups: sops would split the data key (Shamir); amphi refuses rather than give each group the whole key.
  withConfig(`creation_rules:\n  - path_regex: \\.secrets\\.yaml$\n    shamir_threshold: 2\n    key_groups:\n      - age: [${a.recipient}]\n      - age: [${b.recipient}]\n`);
  const two = await secretSet("billing/API_KEY", "k-1");
  assert.equal(two.code, 1);
  assert.match(two.err, /\.sops\.yaml:\d+:\d+ \/creation_rules\/0\/key_groups: 2 key groups: sops would split the data key between them \(Shamir secret sharing, threshold 2\); amphi cannot, and will not encrypt to fewer keys/);
  assert.ok(!existsSync(join(dir, SECRETS)));
  // One group with a PGP key besides age: amphi would leave the PGP key out.
  withConfig(`creation_rules:\n  - key_groups:\n      - age: [${a.recipient}]\n        pgp: [FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4]\n`);
  const mixed = await secretSet("billing/API_KEY", "k-1");
  assert.equal(mixed.code, 1);
  assert.match(mixed.err, /\/creation_rules\/0\/key_groups\/0\/pgp: sops would also encrypt .* to these pgp keys/);
  assert.ok(!existsSync(join(dir, SECRETS)));
});

test(".sops.yaml encryption rules: written into the new file and honoured; more than one, or a comment rule, is refused", { skip: noAge }, async () => {
  const a = ageKeygen();
  withConfig(`creation_rules:\n  - age: ${a.recipient}\n    encrypted_regex: ^(API_KEY|DB_.*)$\n    mac_only_encrypted: true\n`);
  assert.equal((await secretSet("billing/API_KEY", "k-1")).code, 0);
  const file = secrets();
  assert.equal(file.sops.encrypted_regex, "^(API_KEY|DB_.*)$");
  assert.equal(file.sops.unencrypted_suffix, undefined, "sops's default only when the rule names none");
  assert.equal(file.sops.mac_only_encrypted, true);
  const plain = await secretSet("billing/LOG_LEVEL", "debug", a.identity);
  assert.equal(plain.code, 1);
  assert.match(plain.err, /environments\/staging\.secrets\.yaml \/billing\/LOG_LEVEL: the file's encrypted_regex "\^\(API_KEY\|DB_\.\*\)\$" \(no key of the path matches it\) keeps this value in plain text \(sops would not encrypt it\); amphi writes secrets only encrypted/);
  assert.deepEqual(Object.keys(secrets().billing), ["API_KEY"], "nothing written");
  // A new file whose rule keeps the name plain: refused before anything is written.
  withConfig(`creation_rules:\n  - age: ${a.recipient}\n`);
  const suffix = await secretSet("billing/TOKEN_unencrypted", "t-1");
  assert.equal(suffix.code, 1);
  assert.match(suffix.err, /\/billing\/TOKEN_unencrypted: the \.sops\.yaml rule's unencrypted_suffix "_unencrypted" keeps this value in plain text/);
  assert.ok(!existsSync(join(dir, SECRETS)));
  for (const [rule, message] of [
    ["encrypted_regex: ^API\n    unencrypted_suffix: _plain", /\/creation_rules\/0: cannot use more than one of .* in one rule \(sops refuses it too\): it names unencrypted_suffix, encrypted_regex/],
    ["encrypted_comment_regex: sops:enc", /\/creation_rules\/0\/encrypted_comment_regex: amphi keeps no YAML comments/],
    ["unencrypted_regex: '^(x'", /\/creation_rules\/0\/unencrypted_regex: invalid regular expression/],
  ] as const) {
    withConfig(`creation_rules:\n  - age: ${a.recipient}\n    ${rule}\n`);
    const r = await secretSet("billing/API_KEY", "k-1");
    assert.equal(r.code, 1, rule);
    assert.match(r.err, message);
    assert.ok(!existsSync(join(dir, SECRETS)));
  }
});

/** A SOPS file as sops.go writes it for `tree` (app → name → plaintext) under `meta`'s rules: values the rules
 * encrypt as ENC[…] with their path as additional data, the others plain; the MAC (SHA-512 of every value, or with
 * mac_only_encrypted the fixed 32 bytes and the encrypted ones) encrypted with lastmodified. Written here from the
 * format, independently of amphi's code; the data key wrapped by the age CLI. */
function sopsWrites(tree: Record<string, Record<string, string>>, meta: Record<string, unknown>, encrypt: (app: string, name: string) => boolean, recipient: string): { text: string; key: Buffer } {
  const key = randomBytes(32);
  const enc = (plain: string, aad: string) => {
    const iv = randomBytes(32);
    const c = createCipheriv("aes-256-gcm", key, iv);
    c.setAAD(Buffer.from(aad));
    const data = Buffer.concat([c.update(plain, "utf8"), c.final()]);
    return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${c.getAuthTag().toString("base64")},type:str]`;
  };
  const hash = createHash("sha512");
  if (meta["mac_only_encrypted"] === true) hash.update(Buffer.from("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69", "hex"));
  const out: Record<string, Record<string, string>> = {};
  for (const [app, vars] of Object.entries(tree)) {
    out[app] = {};
    for (const [name, plain] of Object.entries(vars)) {
      const e = encrypt(app, name);
      if (e || meta["mac_only_encrypted"] !== true) hash.update(plain);
      out[app][name] = e ? enc(plain, `${app}:${name}:`) : plain;
    }
  }
  const lastmodified = "2026-12-05T10:00:00Z";
  const sops = { age: [{ recipient, enc: ageEncrypt(key, recipient) }], lastmodified, mac: enc(hash.digest("hex").toUpperCase(), lastmodified), ...meta, version: "3.13.2" };
  return { text: dump({ ...out, sops }, { indent: 4, lineWidth: -1 }), key };
}

test("a file whose rules keep values plain (as sops wrote it) is read, and secret set keeps them plain and in the MAC", { skip: noAge }, async () => {
  const a = ageKeygen();
  for (const meta of [{ unencrypted_suffix: "_unencrypted" }, { encrypted_regex: "^(API_KEY|DB_PASSWORD)$" }, { unencrypted_regex: "^LOG_", mac_only_encrypted: true }] as Record<string, unknown>[]) {
    const plainName = meta["unencrypted_suffix"] ? "LOG_LEVEL_unencrypted" : "LOG_LEVEL";
    const tree: Record<string, Record<string, string>> = { billing: { API_KEY: "k-1", [plainName]: "info" } };
    const { text, key } = sopsWrites(tree, meta, (_app, name) => name !== plainName, a.recipient);
    withConfig(null);
    writeFileSync(join(dir, SECRETS), text);
    const read = parseSops(text);
    assert.deepEqual(decryptSops(read, await dataKeyOf(read, [secretKey(a.identity)])), tree, `${JSON.stringify(meta)}: read as sops wrote it`);
    const r = await secretSet("billing/DB_PASSWORD", "pw-2", a.identity);
    assert.equal(r.code, 0, r.err);
    const after = secrets();
    assert.equal(after.billing[plainName], "info", "the plain value stays plain");
    assert.match(after.billing.API_KEY, /^ENC\[/);
    assert.match(after.billing.DB_PASSWORD, /^ENC\[/);
    // The MAC as sops computes it: every value in file order, or only the encrypted ones after the fixed bytes.
    const hash = createHash("sha512");
    if (meta["mac_only_encrypted"]) hash.update(Buffer.from("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69", "hex"));
    for (const [name, v] of [["API_KEY", "k-1"], [plainName, "info"], ["DB_PASSWORD", "pw-2"]]) if (!meta["mac_only_encrypted"] || name !== plainName) hash.update(v!);
    assert.equal(decryptValue(after.sops.mac, key, after.sops.lastmodified, "/sops/mac"), hash.digest("hex").toUpperCase());
    assert.equal(decryptValue(after.billing.DB_PASSWORD, key, "billing:DB_PASSWORD:", "/billing/DB_PASSWORD"), "pw-2");
    const refused = await secretSet(`billing/${plainName}`, "debug", a.identity);
    assert.equal(refused.code, 1, "a secret the rules keep plain is never written");
    assert.equal(secrets().billing[plainName], "info");
  }
  // An amphi-encrypted value where the rules keep it plain: sops would not decrypt it; named, not guessed.
  const { text } = sopsWrites({ billing: { API_KEY_unencrypted: "x" } }, { unencrypted_suffix: "_unencrypted" }, () => true, a.recipient);
  assert.throws(() => parseSops(text), (e: unknown) => e instanceof SopsError && e.pointer === "/billing/API_KEY_unencrypted" && /keeps this value plain, but it is encrypted/.test(e.message));
});

test("a file with key_groups (Shamir) or a comment rule is refused naming it, not read as 'no age recipients'", { skip: noAge }, () => {
  const a = ageKeygen();
  const { text } = sopsWrites({ billing: { API_KEY: "k-1" } }, {}, () => true, a.recipient);
  const doc = load(text) as { sops: Record<string, unknown> };
  const { age, ...rest } = doc.sops;
  const grouped = dump({ ...doc, sops: { ...rest, key_groups: [{ age }, { age }], shamir_threshold: 2 } });
  assert.throws(() => parseSops(grouped), (e: unknown) => e instanceof SopsError && e.pointer === "/sops/key_groups" && /split across 2 key groups \(Shamir secret sharing, threshold 2\)/.test(e.message));
  const commented = dump({ ...doc, sops: { ...doc.sops, encrypted_comment_regex: "^sops:" } });
  assert.throws(() => parseSops(commented), (e: unknown) => e instanceof SopsError && e.pointer === "/sops/encrypted_comment_regex");
});
