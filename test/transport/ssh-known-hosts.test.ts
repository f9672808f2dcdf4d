// known_hosts parsing and matching, and argv quoting, of the ssh adapter (pure; no hosts needed).
// Cross-checked against OpenSSH itself: `ssh-keygen -F` must find what hostMatches finds.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { checkHostKey, commandLine, fingerprint, hostMatches, knownHostsName, parseKnownHosts } from "../../src/adapters/ssh/index.js";
import { appendKnownHost } from "../../src/adapters/ssh/known-hosts.js";
import { spawnSync } from "../support/spawn.js";

/** A fake ed25519 public key blob (type string + 32 bytes). */
function blob(type = "ssh-ed25519"): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const klen = Buffer.alloc(4);
  klen.writeUInt32BE(32);
  return Buffer.concat([len, t, klen, randomBytes(32)]);
}
const line = (hosts: string, key: Buffer, type = "ssh-ed25519") => `${hosts} ${type} ${key.toString("base64")}`;
const hashed = (name: string) => {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
};

describe("known_hosts matching", () => {
  it("matches plain names, comma lists, [host]:port, case-insensitively", () => {
    assert.ok(hostMatches("10.0.0.1", "10.0.0.1"));
    assert.ok(hostMatches("a.example,10.0.0.1", "10.0.0.1"));
    assert.ok(hostMatches("Web.Example", "web.example"));
    assert.ok(hostMatches("[10.0.0.1]:2222", knownHostsName("10.0.0.1", 2222)));
    assert.ok(!hostMatches("10.0.0.1", knownHostsName("10.0.0.1", 2222)), "a port-22 entry is not a port-2222 entry");
    assert.ok(!hostMatches("10.0.0.11", "10.0.0.1"));
  });

  it("supports * and ? wildcards and ! negation", () => {
    assert.ok(hostMatches("*.example", "vm-1.example"));
    assert.ok(hostMatches("10.0.0.?", "10.0.0.7"));
    assert.ok(!hostMatches("10.0.0.?", "10.0.0.17"));
    assert.ok(hostMatches("*.example,!db.example", "web.example"));
    assert.ok(!hostMatches("*.example,!db.example", "db.example"));
    assert.ok(!hostMatches("!db.example", "web.example"), "a negation alone matches nothing");
    assert.ok(!hostMatches("10.0.0.1+", "10.0.0.11"), "regex characters are literal");
  });

  it("matches hashed |1|salt|hmac names", () => {
    assert.ok(hostMatches(hashed("10.0.0.1"), "10.0.0.1"));
    assert.ok(!hostMatches(hashed("10.0.0.1"), "10.0.0.2"));
    assert.ok(hostMatches(hashed("[10.0.0.1]:2222"), "[10.0.0.1]:2222"));
  });

  it("agrees with ssh-keygen -F on a hashed file", () => {
    const dir = mkdtempSync(join(tmpdir(), "amphi-kh-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "known_hosts");
    writeFileSync(file, `${line("10.1.2.3", blob())}\n${line("[10.1.2.4]:2200", blob())}\n`);
    const r = spawnSync("ssh-keygen", ["-H", "-f", file], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const entries = parseKnownHosts(readFileSync(file, "utf8"));
    assert.equal(entries.length, 2);
    assert.ok(entries.every((e) => e.patterns.startsWith("|1|")));
    assert.ok(hostMatches(entries[0]!.patterns, "10.1.2.3"));
    assert.ok(hostMatches(entries[1]!.patterns, "[10.1.2.4]:2200"));
  });
});

describe("known_hosts verdicts", () => {
  const k1 = blob();
  const k2 = blob();
  const rsa = blob("ssh-rsa");

  it("known, unknown, mismatch with line numbers and fingerprints", () => {
    const text = ["# comment", "", line("10.0.0.1", k1), line("10.0.0.2", k2)].join("\n");
    const entries = parseKnownHosts(text);
    assert.deepEqual(checkHostKey(entries, "10.0.0.1", k1), { status: "known", line: 3 });
    assert.deepEqual(checkHostKey(entries, "10.0.0.3", k1), { status: "unknown" });
    assert.deepEqual(checkHostKey(entries, "10.0.0.1", k2), { status: "mismatch", expected: [{ line: 3, fingerprint: fingerprint(k1) }] });
  });

  it("compares the key type as well as the blob", () => {
    const entries = parseKnownHosts(line("10.0.0.1", k1, "ssh-rsa"));
    assert.equal(checkHostKey(entries, "10.0.0.1", k1).status, "mismatch");
    assert.equal(checkHostKey(parseKnownHosts(line("10.0.0.1", rsa, "ssh-rsa")), "10.0.0.1", rsa).status, "known");
  });

  it("refuses @revoked keys even when another line lists them; ignores @cert-authority", () => {
    const text = [line("10.0.0.1", k1), `@revoked * ssh-ed25519 ${k1.toString("base64")}`, `@cert-authority * ssh-ed25519 ${k2.toString("base64")}`].join("\n");
    const entries = parseKnownHosts(text);
    assert.deepEqual(checkHostKey(entries, "10.0.0.1", k1), { status: "revoked", line: 2 });
    assert.deepEqual(checkHostKey(entries, "10.0.0.9", k2), { status: "unknown" }, "a CA line trusts nothing");
  });

  it("skips malformed lines", () => {
    const entries = parseKnownHosts(["10.0.0.1", "10.0.0.1 ssh-ed25519", "10.0.0.1 ssh-ed25519 !!notbase64", line("10.0.0.1", k1)].join("\n"));
    assert.deepEqual(entries.map((e) => e.line), [4]);
  });

  it("prints fingerprints like OpenSSH", () => {
    const dir = mkdtempSync(join(tmpdir(), "amphi-fp-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "k")]);
    const pub = readFileSync(join(dir, "k.pub"), "utf8").split(" ");
    const want = spawnSync("ssh-keygen", ["-l", "-E", "sha256", "-f", join(dir, "k.pub")], { encoding: "utf8" }).stdout.split(" ")[1];
    assert.equal(fingerprint(Buffer.from(pub[1]!, "base64")), want);
  });

  it("appends with a newline before an unterminated last line", () => {
    const dir = mkdtempSync(join(tmpdir(), "amphi-app-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "sub", "known_hosts");
    appendKnownHost(file, "a ssh-ed25519 AAAA");
    writeFileSync(file, readFileSync(file, "utf8") + "b ssh-ed25519 BBBB");
    appendKnownHost(file, "c ssh-ed25519 CCCC");
    assert.equal(readFileSync(file, "utf8"), "a ssh-ed25519 AAAA\nb ssh-ed25519 BBBB\nc ssh-ed25519 CCCC\n");
  });
});

describe("argv quoting", () => {
  it("quotes what sh would interpret and leaves plain words bare", () => {
    assert.equal(commandLine(["printf", "%s", "a 'b' $c; d\n"]), `printf %s 'a '\\''b'\\'' $c; d\n'`);
    assert.equal(commandLine(["ls", "-la", "/opt/amphi"]), "ls -la /opt/amphi");
    assert.equal(commandLine(["echo", ""]), "echo ''");
    assert.equal(commandLine(["if", "x"]), "'if' x");
    assert.equal(commandLine(["env", "A=1"]), "env 'A=1'");
    assert.equal(commandLine(["echo", "~", "*", "a|b", "`x`"]), "echo '~' '*' 'a|b' '`x`'");
  });

  it("round-trips through a real sh", () => {
    const nasty = ["a b", "'", "\"", "$HOME", "`id`", "$(id)", "a\nb", "\\", "!", "*", "-n", "", "é ✓"];
    const r = spawnSync("sh", ["-c", `${commandLine(["printf", "%s\\0", ...nasty])}`], { encoding: "utf8" });
    assert.deepEqual(r.stdout.split("\0").slice(0, -1), nasty);
  });
});
