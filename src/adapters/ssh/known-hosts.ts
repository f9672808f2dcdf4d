// OpenSSH known_hosts files: parse (pure), look up the key a host offered, append a newly accepted key.
// Lines: `[@marker] patterns keytype base64 [comment]`. Patterns are a comma list of host names or
// `[host]:port`, with `*`/`?` wildcards and `!` negation, or hashed `|1|salt|hmac` names (HMAC-SHA1 of
// the name, keyed by the salt). `@revoked` keys are refused for the hosts they match; `@cert-authority`
// lines are ignored (amphi does not do host certificates).
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readSync } from "node:fs";
import { dirname } from "node:path";

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  marker: "revoked" | null;
  /** The host-pattern field as written. */
  patterns: string;
  keyType: string;
  /** The decoded public key blob. */
  key: Buffer;
}

/** How a known_hosts file judges the key a host offered. */
export type HostKeyVerdict =
  | { status: "known"; line: number }
  | { status: "unknown" }
  | { status: "revoked"; line: number }
  | { status: "mismatch"; expected: Array<{ line: number; fingerprint: string }> };

/** Key lines of a known_hosts file; comments, blank, malformed and `@cert-authority` lines are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === "" || fields[0]?.startsWith("#")) return;
    let marker: KnownHostEntry["marker"] = null;
    if (fields[0]?.startsWith("@")) {
      if (fields[0] !== "@revoked") return; // @cert-authority, or a marker we do not know
      marker = "revoked";
      fields.shift();
    }
    const [patterns, keyType, b64] = fields;
    if (!patterns || !keyType || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
    out.push({ line: i + 1, marker, patterns, keyType, key: Buffer.from(b64, "base64") });
  });
  return out;
}

/** The name a host is known by: the address for port 22, `[address]:port` otherwise (as OpenSSH). */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** Whether a pattern field matches a host name: any positive pattern matches and no negated one does. */
export function hostMatches(patterns: string, name: string): boolean {
  const host = name.toLowerCase();
  let positive = false;
  for (const item of patterns.split(",")) {
    const negated = item.startsWith("!");
    const pattern = negated ? item.slice(1) : item;
    const hit = pattern.startsWith("|1|") ? hashedMatches(pattern, name) : globMatches(pattern.toLowerCase(), host);
    if (hit && negated) return false;
    if (hit) positive = true;
  }
  return positive;
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as written by `ssh-keygen -H`. */
function hashedMatches(pattern: string, name: string): boolean {
  const [, , salt, mac] = pattern.split("|");
  if (!salt || !mac) return false;
  const want = Buffer.from(mac, "base64");
  const got = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** OpenSSH wildcard matching: `*` any run of characters, `?` exactly one. */
function globMatches(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "s").test(text);
}

/** The key type inside a public key blob (its first SSH string), e.g. `ssh-ed25519`. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "";
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** A key's fingerprint the way OpenSSH prints it: `SHA256:` and unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Judges the key a host offered against the file's entries for that host name. A revoked key is
 * refused even when another line lists it; a known host with no line for this key is a mismatch. */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, offered: Buffer): HostKeyVerdict {
  const type = keyTypeOf(offered);
  const forHost = entries.filter((e) => hostMatches(e.patterns, name));
  const same = (e: KnownHostEntry) => e.keyType === type && e.key.equals(offered);
  const revoked = forHost.find((e) => e.marker === "revoked" && same(e));
  if (revoked) return { status: "revoked", line: revoked.line };
  const plain = forHost.filter((e) => e.marker === null);
  const hit = plain.find(same);
  if (hit) return { status: "known", line: hit.line };
  if (plain.length === 0) return { status: "unknown" };
  return { status: "mismatch", expected: plain.map((e) => ({ line: e.line, fingerprint: fingerprint(e.key) })) };
}

/** Key types the file lists for a host (so the client can ask the server for one of those first). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  const types = entries.filter((e) => e.marker === null && hostMatches(e.patterns, name)).map((e) => e.keyType);
  return [...new Set(types)];
}

/** The line `<name> <type> <base64>` for a newly accepted key. */
export function knownHostsLine(name: string, blob: Buffer): string {
  return `${name} ${keyTypeOf(blob)} ${blob.toString("base64")}`;
}

/** Appends one line with a single O_APPEND write (concurrent appends do not interleave), creating the
 * file (0600) and its directory (0700) when missing, and first ending an unterminated last line. */
export function appendKnownHost(file: string, line: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, (endsWithNewline(file) ? "" : "\n") + line + "\n", { mode: 0o600, flag: "a" });
}

function endsWithNewline(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return true; // missing: nothing to terminate
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}
