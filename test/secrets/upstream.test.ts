// SOPS as the real `sops` tool writes it (test/fixtures/secrets/sops-upstream: a file sops 3.13.1 encrypted to its
// published PGP test key, MPL-2.0). gpg unwraps that file's data key; amphi must read its value and MAC as sops
// wrote them, and `amphi secret set` on a file that has that PGP recipient besides an age one must keep the PGP
// recipient (still opening the file) and every other key of the `sops` section, in their order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load } from "js-yaml";
import { run } from "../../src/cli/main.js";
import { dataKeyOf, decryptSops, decryptValue, formatSops, macOf, parseSops, resealSops } from "../../src/secrets/sops.js";
import { ageEncrypt, ageKeygen, gpgDecrypt, noAge, noGpg } from "./support.js";

const FIXTURES = new URL("../fixtures/secrets/sops-upstream/", import.meta.url).pathname;
const PGP_KEY = join(FIXTURES, "sops_functional_tests_key.asc");
const upstream = load(readFileSync(join(FIXTURES, "format.enc.yaml"), "utf8")) as { foo: string; sops: { pgp: { enc: string }[]; lastmodified: string; mac: string } & Record<string, unknown> };

test("a value and the MAC the real sops tool wrote decrypt with amphi's rules", { skip: noGpg }, () => {
  const key = gpgDecrypt(upstream.sops.pgp[0]!.enc, PGP_KEY);
  assert.equal(key.length, 32);
  assert.equal(decryptValue(upstream.foo, key, "foo:", "/foo"), "bar");
  assert.equal(decryptValue(upstream.sops.mac, key, upstream.sops.lastmodified, "/sops/mac"), macOf(["bar"], false));
});

/** A repo with environments/staging.yaml and a secrets file holding `billing/API_KEY` under the upstream file's
 * data key: the upstream PGP recipient (as sops wrote it) and a new age recipient (wrapped by the age CLI), with
 * the other keys an older sops wrote (`kms: []` …) and `extra` in the sops section. */
function repoWithPgpAndAge(extra: Record<string, unknown>) {
  const key = gpgDecrypt(upstream.sops.pgp[0]!.enc, PGP_KEY);
  const age = ageKeygen();
  const { lastmodified: _l, mac: _m, ...kept } = upstream.sops;
  const rest = { kms: [], gcp_kms: [], azure_kv: [], hc_vault: [], ...kept, ...extra };
  const order = ["kms", "gcp_kms", "azure_kv", "hc_vault", "age", "lastmodified", "mac", ...Object.keys(rest).filter((k) => !k.endsWith("kms") && k !== "azure_kv" && k !== "hc_vault")];
  const base = { values: {}, age: [{ recipient: age.recipient, enc: ageEncrypt(key, age.recipient) }], lastmodified: "", mac: "", rest, order };
  const dir = mkdtempSync(join(tmpdir(), `amphi-sops-up-${process.pid}-`));
  mkdirSync(join(dir, "environments"));
  writeFileSync(join(dir, "environments/staging.yaml"), "name: staging\n");
  writeFileSync(join(dir, "environments/staging.secrets.yaml"), formatSops(resealSops(base, { billing: { API_KEY: "k-1" } }, key, new Date("2026-01-02T03:04:05Z"))));
  return { dir, key, identity: age.identity, before: load(readFileSync(join(dir, "environments/staging.secrets.yaml"), "utf8")) as { sops: Record<string, unknown> } };
}

async function secretSet(dir: string, identity: string, name: string, value: string): Promise<{ code: number; err: string }> {
  let err = "";
  const code = await run(["secret", "set", "staging", name, "--repo", dir], { out: () => {}, err: (t) => void (err += t), cwd: dir, env: { AMPHI_AGE_KEY: identity }, stdin: async () => `${value}\n` });
  return { code, err };
}

test("secret set keeps the PGP recipient and the rest of the sops section; PGP still opens the file", { skip: noGpg || noAge }, async () => {
  const { dir, key, identity, before } = repoWithPgpAndAge({ unencrypted_regex: "^PUBLIC_" });
  try {
    const r = await secretSet(dir, identity, "billing/DB_PASSWORD", "pw-2");
    assert.equal(r.code, 0, r.err);
    const text = readFileSync(join(dir, "environments/staging.secrets.yaml"), "utf8");
    const after = load(text) as { sops: Record<string, unknown> };
    const { lastmodified: _a, mac: _b, ...keptAfter } = after.sops;
    const { lastmodified: _c, mac: _d, ...keptBefore } = before.sops;
    assert.deepEqual(keptAfter, keptBefore, "every other key of the sops section, as it was (pgp, kms, suffix, regex, version, age)");
    assert.deepEqual(Object.keys(after.sops), Object.keys(before.sops), "in the same order");
    const fromPgp = gpgDecrypt((after.sops["pgp"] as { enc: string }[])[0]!.enc, PGP_KEY);
    assert.deepEqual(fromPgp, key, "the PGP recipient still holds the file's data key");
    const file = parseSops(text);
    const values = { billing: { API_KEY: "k-1", DB_PASSWORD: "pw-2" } };
    assert.deepEqual(decryptSops(file, fromPgp), values, "the PGP key opens the new values (MAC included)");
    assert.deepEqual(decryptSops(file, await dataKeyOf(file, [identity.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!])), values);
    assert.match(r.err, /\/billing\/DB_PASSWORD: added \(encrypted to 1 age recipient; pgp recipients kept\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mac_only_encrypted is kept and the MAC follows it, as sops computes it", { skip: noGpg || noAge }, async () => {
  const { dir, key, identity } = repoWithPgpAndAge({ mac_only_encrypted: true });
  try {
    const r = await secretSet(dir, identity, "billing/API_KEY", "k-2");
    assert.equal(r.code, 0, r.err);
    const file = parseSops(readFileSync(join(dir, "environments/staging.secrets.yaml"), "utf8"));
    assert.equal(file.rest["mac_only_encrypted"], true);
    // sops starts this hash with 32 fixed bytes (sops.go MACOnlyEncryptedInitialization), then every encrypted value.
    const init = Buffer.from([0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0xb, 0xb, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69]);
    const want = createHash("sha512").update(init).update("k-2").digest("hex").toUpperCase();
    assert.equal(decryptValue(file.mac, key, file.lastmodified, "/sops/mac"), want);
    assert.deepEqual(decryptSops(file, key), { billing: { API_KEY: "k-2" } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
