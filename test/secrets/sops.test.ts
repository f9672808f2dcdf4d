// SOPS files with age, against the real age CLI: a data key the CLI wrapped opens the values; a data key amphi
// wrapped opens with `age -d`; a tampered value, a value moved to another key, a removed value and a wrong
// identity are each an error naming where.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SopsError, dataKeyOf, decryptSops, encryptSops, formatSops, parseSops } from "../../src/secrets/sops.js";
import { ageDecrypt, ageKeygen, noAge, sopsWithAgeCli } from "./support.js";

const VALUES = { billing: { API_KEY: "k-3f9a-secret", DB_PASSWORD: "hunter2-db" }, web: { SESSION_KEY: "s3ss10n" } };

test("a file whose data key the age CLI encrypted decrypts, to every recipient", { skip: noAge }, async () => {
  const [a, b] = [ageKeygen(), ageKeygen()];
  const file = parseSops(await sopsWithAgeCli(VALUES, [a.recipient, b.recipient]));
  for (const who of [a, b]) assert.deepEqual(decryptSops(file, await dataKeyOf(file, [who.identity.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!])), VALUES);
});

test("a data key amphi encrypted opens with the age CLI; the file is SOPS-shaped", { skip: noAge }, async () => {
  const a = ageKeygen();
  const { file, dataKey } = await encryptSops(VALUES, [a.recipient]);
  assert.deepEqual(ageDecrypt(file.age[0]!.enc, a.identity), dataKey);
  const text = formatSops(file);
  assert.match(text, /^billing:\n {4}API_KEY: ENC\[AES256_GCM,data:[^,]+,iv:[A-Za-z0-9+/]{43}=,tag:[A-Za-z0-9+/]{22}==,type:str\]\n/);
  assert.match(text, /\nsops:\n {4}age:\n/);
  assert.match(text, /\n {4}mac: ENC\[AES256_GCM,/);
  for (const v of ["k-3f9a-secret", "hunter2-db", "s3ss10n"]) assert.ok(!text.includes(v));
});

test("tampered, moved and removed values and a wrong identity are errors naming where", { skip: noAge }, async () => {
  const a = ageKeygen();
  const id = [a.identity.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!];
  const text = await sopsWithAgeCli(VALUES, [a.recipient]);
  const open = async (t: string) => {
    const f = parseSops(t);
    return decryptSops(f, await dataKeyOf(f, id));
  };
  const at = (pointer: string, message: RegExp) => (e: unknown) => e instanceof SopsError && e.pointer === pointer && message.test(e.message);
  // One changed character of the ciphertext.
  const tampered = text.replace(/(API_KEY: ENC\[AES256_GCM,data:)(.)/, (_, p: string, c: string) => p + (c === "A" ? "B" : "A"));
  await assert.rejects(open(tampered), at("/billing/API_KEY", /does not decrypt/));
  // A value copied under another name (the path is its additional data).
  const api = /API_KEY: (ENC\[[^\]]+\])/.exec(text)![1]!;
  await assert.rejects(open(text.replace(/DB_PASSWORD: ENC\[[^\]]+\]/, `DB_PASSWORD: ${api}`)), at("/billing/DB_PASSWORD", /does not decrypt/));
  // A value removed: every remaining one decrypts, the MAC does not match.
  await assert.rejects(open(text.replace(/\n {4}DB_PASSWORD: ENC\[[^\]]+\]/, "")), at("/sops/mac", /MAC mismatch/));
  // Another identity.
  const other = ageKeygen().identity.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
  await assert.rejects(dataKeyOf(parseSops(text), [other]), at("/sops/age", /not one of the file's recipients/));
  // A plain value where an encrypted one belongs.
  assert.throws(() => parseSops(text.replace(/API_KEY: ENC\[[^\]]+\]/, "API_KEY: plain")), at("/billing/API_KEY", /not an encrypted value/));
  assert.deepEqual(await open(text), VALUES);
});
