// Secrets files made with the real `age` CLI: a fresh identity from age-keygen, and SOPS files whose data key the
// age CLI encrypts (the values under it are AES-GCM as SOPS writes them). What amphi decrypts in these tests was
// therefore wrapped by age itself, not by the age-encryption package amphi reads it with.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encryptSops, formatSops } from "../../src/secrets/sops.js";

/** Whether the age CLI is installed (scripts/install-test-deps.sh installs it). */
export const noAge = spawnSync("age", ["--version"]).status !== 0 && process.env.CI !== "true" ? "the age CLI is not installed" : false;

/** A new age identity (the key file's text) and its recipient, from age-keygen. */
export function ageKeygen(): { identity: string; recipient: string } {
  const dir = mkdtempSync(join(tmpdir(), `amphi-age-${process.pid}-`));
  try {
    const r = spawnSync("age-keygen", ["-o", join(dir, "key.txt")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`age-keygen failed: ${r.stderr}`);
    const identity = readFileSync(join(dir, "key.txt"), "utf8");
    return { identity, recipient: /public key: (age1\S+)/.exec(identity)![1]! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `bytes` encrypted by `age -r <recipient> -a`. */
export function ageEncrypt(bytes: Buffer, recipient: string): string {
  const r = spawnSync("age", ["-r", recipient, "-a"], { input: bytes, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`age failed: ${r.stderr}`);
  return r.stdout;
}

/** The plaintext `age -d` gets from `armored` with `identity`. */
export function ageDecrypt(armored: string, identity: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), `amphi-age-${process.pid}-`));
  try {
    const key = join(dir, "key.txt");
    writeFileSync(key, identity, { mode: 0o600 });
    const r = spawnSync("age", ["-d", "-i", key], { input: armored });
    if (r.status !== 0) throw new Error(`age -d failed: ${r.stderr.toString()}`);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The text of a SOPS file holding `values`, its data key encrypted to each recipient by the age CLI. */
export async function sopsWithAgeCli(values: Record<string, Record<string, string>>, recipients: string[]): Promise<string> {
  const { file, dataKey } = await encryptSops(values, []);
  file.age = recipients.map((recipient) => ({ recipient, enc: ageEncrypt(dataKey, recipient) }));
  return formatSops(file);
}
