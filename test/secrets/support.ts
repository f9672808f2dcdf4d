// Secrets files made with the real `age` CLI: a fresh identity from age-keygen, and SOPS files whose data key the
// age CLI encrypts (the values under it are AES-GCM as SOPS writes them). What amphi decrypts in these tests was
// therefore wrapped by age itself, not by the age-encryption package amphi reads it with.
import { spawnSync } from "../support/spawn.js";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

/** Every regular file under `dir`, depth first; `.git` is left out (its objects are compressed anyway). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      if (name === ".git") continue;
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (st?.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Whether gpg is installed (Debian's gnupg): it unwraps the data keys of the files the real sops tool wrote. */
export const noGpg = spawnSync("gpg", ["--version"]).status !== 0 && process.env.CI !== "true" ? "gpg is not installed" : false;

/** The plaintext `gpg --decrypt` gets from `armored` with the secret keys in `keyFile` (imported into a throwaway
 * GNUPGHOME, removed afterwards). */
export function gpgDecrypt(armored: string, keyFile: string): Buffer {
  const home = mkdtempSync(join(tmpdir(), `amphi-gpg-${process.pid}-`));
  try {
    const env = { ...process.env, GNUPGHOME: home };
    const imported = spawnSync("gpg", ["--batch", "--import", keyFile], { env, encoding: "utf8" });
    if (imported.status !== 0) throw new Error(`gpg --import failed: ${imported.stderr}`);
    const r = spawnSync("gpg", ["--batch", "--decrypt"], { env, input: armored });
    if (r.status !== 0) throw new Error(`gpg --decrypt failed: ${r.stderr.toString()}`);
    return r.stdout;
  } finally {
    spawnSync("gpgconf", ["--homedir", home, "--kill", "all"]);
    rmSync(home, { recursive: true, force: true });
  }
}

/** A sampler of every process's command line on this machine, one per line, as `ps -eo args` lists them: read from
 * /proc, where ps reads them, without starting a process (ps, ~20 ms of CPU a sample) for each sample of a tight
 * loop. The root namespace's /proc lists the netns hosts' processes too (their PID namespaces are its children).
 * Each call reads the command lines of the processes it has not seen before or first saw less than YOUNG_MS ago (a
 * child forked under its parent's command line execs its own within that), and every FULL_EVERY-th call all of
 * them (a long-running process that execs later): reading all ~500 every 5 ms kept a core busy through each
 * watched apply. */
export function processArgsSampler(): () => string {
  const YOUNG_MS = 1_000;
  const FULL_EVERY = 10;
  const firstSeen = new Map<string, number>();
  let calls = 0;
  return () => {
    const now = performance.now();
    const full = calls++ % FULL_EVERY === 0;
    const lines: string[] = [];
    const alive = new Set<string>();
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      alive.add(pid);
      const first = firstSeen.get(pid);
      if (first === undefined) firstSeen.set(pid, now);
      else if (!full && now - first > YOUNG_MS) continue;
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ").trim();
        if (args) lines.push(args);
      } catch {
        /* it exited between the listing and the read */
      }
    }
    // a pid gone is forgotten: a new process given it again is young
    for (const pid of firstSeen.keys()) if (!alive.has(pid)) firstSeen.delete(pid);
    return lines.join("\n");
  };
}

/** Samples `what` until `until` settles, a few ms apart (a loop without pause keeps a core busy while the machine
 * runs the very apply it watches); resolves with `until`'s result and the samples. */
export async function sampleWhile<T>(until: Promise<T>, ...what: (() => string | Promise<string>)[]): Promise<{ result: T; seen: string[] }> {
  const seen: string[] = [];
  let sampling = true;
  const loops = what.map(async (sample) => {
    while (sampling) {
      seen.push(await sample());
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  const result = await until.finally(() => (sampling = false));
  await Promise.all(loops);
  return { result, seen };
}
