// The VM sidecar's host side without a host: the supervised "app" it is installed as reads back to the same
// sidecar, and the package generated for a binary on the host is a real tar.gz, kept in a private directory of this
// user (never written through a planted symlink, never from a directory someone else made) and checked at use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { binaryPackage, sidecarFromInstance, sidecarInstance } from "../../src/hosts/sidecar.js";
import { hostSidecar } from "../../src/runtimes/sidecar/render.js";
import { modelFixture } from "../support/model-fixture.js";
import { runnable } from "../support/node-script.js";

const env = { ...modelFixture().environments.find((e) => e.name === "prod")!, };
const prod = { ...env, mesh: { ...env.mesh, controlPlane: { host: "10.0.0.5", port: 18000 } } };
const at = { hostGroup: "legacy", host: "vm-1", address: "10.20.0.11", baseDir: "/opt/amphi" };

test("a sidecar installed as the supervised app `envoy` reads back as the same sidecar (binary and package)", () => {
  const bin = hostSidecar(prod, { binary: "/usr/local/bin/envoy" }, at);
  const i = sidecarInstance("prod", bin, "b".repeat(64));
  assert.equal(i.app, "envoy");
  assert.equal(i.baseDir, "/opt/amphi/sidecar");
  assert.deepEqual(i.health, { path: "/ready", port: 15000 });
  assert.deepEqual(i.ports.map((p) => p.port), [15000, 15006, 15001]);
  assert.match(i.start, /exec setpriv --reuid="\$uid"/);
  assert.deepEqual(sidecarFromInstance(i, "/opt/amphi"), bin);
  const pkg = hostSidecar(prod, { package: { url: "https://example.com/envoy.tar.gz" }, version: "1.31.2", sha256: "c".repeat(64), exe: "bin/envoy" }, at);
  const j = sidecarInstance("prod", pkg, "");
  assert.equal(j.sha256, "c".repeat(64));
  assert.equal(j.environment["AMPHI_ENVOY_BIN"], "bin/envoy");
  assert.deepEqual(sidecarFromInstance(j, "/opt/amphi"), pkg);
});

test("the package made for a binary on the host is a tar.gz tar reads, with its sha256, in this user's private directory", () => {
  const p = binaryPackage();
  const bytes = readFileSync(p.file);
  assert.equal(createHash("sha256").update(bytes).digest("hex"), p.sha256);
  assert.equal(execFileSync("tar", ["-tzf", p.file], { encoding: "utf8" }), "README\n");
  assert.match(execFileSync("tar", ["-xOzf", p.file, "README"], { encoding: "utf8" }), /mesh\.sidecar\.binary/);
  assert.deepEqual(binaryPackage(), p, "the same file the next time");
  // One content-addressed file in <tmp>/amphi-<uid> (0700), not a temp directory per process left behind.
  assert.equal(p.file, join(tmpdir(), `amphi-${process.getuid!()}`, `sidecar-binary-${p.sha256.slice(0, 16)}.tar.gz`));
  const dir = lstatSync(dirname(p.file));
  assert.ok(dir.isDirectory());
  assert.equal(dir.mode & 0o777, 0o700);
  assert.equal(dir.uid, process.getuid!());
  assert.equal(lstatSync(p.file).mode & 0o777, 0o600);
});

/** Runs `script` (ESM, with `binaryPackage` imported) in a fresh node with TMPDIR=`tmp`; its stdout parsed. */
function child(tmp: string, script: string): { file: string; sha256: string; pid: number } {
  const m = runnable(new URL("../../src/hosts/sidecar.ts", import.meta.url));
  const src = `import { binaryPackage } from ${JSON.stringify(pathToFileURL(m.path).href)};\n${script}`;
  const out = execFileSync(process.execPath, [...m.execArgv, "--input-type=module", "-e", src], { env: { ...process.env, TMPDIR: tmp }, encoding: "utf8" });
  return JSON.parse(out) as { file: string; sha256: string; pid: number };
}

function tempDir(t: { after(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "amphi-sidecar-pkg-test-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("the generated package is never written through a symlink another user planted in the temp directory", (t) => {
  const tmp = tempDir(t);
  const victim = join(tmp, "victim");
  writeFileSync(victim, "precious\n");
  const { sha256 } = child(tmp, "console.log(JSON.stringify(binaryPackage()));");
  // The attacker guesses the name amphi used to write the shared file through: its `.part` with amphi's pid (here the
  // child plants it itself, as a local user who guessed the pid would have), before amphi first made the file.
  const old = join(tmp, `amphi-sidecar-binary-${sha256.slice(0, 16)}.tar.gz`);
  for (const f of [old, join(tmp, `amphi-${process.getuid!()}`)]) rmSync(f, { recursive: true, force: true });
  const plant = `import { symlinkSync } from "node:fs";\nsymlinkSync(${JSON.stringify(victim)}, ${JSON.stringify(old)} + "." + process.pid + ".part");\n`;
  const p = child(tmp, `${plant}console.log(JSON.stringify({ ...binaryPackage(), pid: process.pid }));`);
  assert.equal(readFileSync(victim, "utf8"), "precious\n", "the planted link's target is untouched");
  assert.equal(createHash("sha256").update(readFileSync(p.file)).digest("hex"), p.sha256);
  assert.ok(!lstatSync(p.file).isSymbolicLink());
  // Where the file goes now, a link in its place (only this user could make one in the private directory) is
  // replaced, never written through.
  rmSync(p.file);
  symlinkSync(victim, p.file);
  const q = child(tmp, "console.log(JSON.stringify({ ...binaryPackage(), pid: process.pid }));");
  assert.equal(q.file, p.file);
  assert.equal(readFileSync(victim, "utf8"), "precious\n", "the link's target is untouched");
  assert.ok(!lstatSync(q.file).isSymbolicLink(), "the link was replaced by the file");
  assert.equal(createHash("sha256").update(readFileSync(q.file)).digest("hex"), q.sha256);
});

test("a per-user directory someone else made, or a symlink, or not private, is not used: a per-process one is, removed at exit", (t) => {
  const tmp = tempDir(t);
  const mine = join(tmp, `amphi-${process.getuid!()}`);
  const elsewhere = join(tmp, "attacker");
  mkdirSync(elsewhere, { mode: 0o700 });
  const cases: Array<[string, () => void]> = [
    ["a symlink to a private directory", () => symlinkSync(elsewhere, mine)],
    ["mode 0755", () => (mkdirSync(mine), chmodSync(mine, 0o755))],
    ["mode 0777 (anyone may plant files in it)", () => (mkdirSync(mine), chmodSync(mine, 0o777))],
    ["a regular file", () => writeFileSync(mine, "")],
  ];
  if (process.getuid!() === 0) cases.push(["owned by another user (nobody), mode 0700", () => (mkdirSync(mine, { mode: 0o700 }), chownSync(mine, 65534, 65534))]);
  for (const [what, make] of cases) {
    rmSync(mine, { recursive: true, force: true });
    make();
    const p = child(tmp, "console.log(JSON.stringify({ ...binaryPackage(), pid: process.pid }));");
    assert.notEqual(dirname(p.file), mine, what);
    assert.equal(dirname(dirname(p.file)), tmp, `${what}: a directory of the process in the same temp directory`);
    assert.deepEqual(readdirSync(elsewhere), [], `${what}: nothing written where the link points`);
    assert.equal(existsSync(dirname(p.file)), false, `${what}: the process's directory is removed at exit`);
  }
});

test("the generated file's bytes are checked at every use: a changed file is written anew", (t) => {
  const tmp = tempDir(t);
  const p = binaryPackage(tmp);
  writeFileSync(p.file, "not the package");
  const again = binaryPackage(tmp);
  assert.equal(again.file, p.file);
  assert.equal(createHash("sha256").update(readFileSync(again.file)).digest("hex"), p.sha256);
  assert.deepEqual(readdirSync(dirname(p.file)), [basename(p.file)], "no .part left behind");
  rmSync(p.file);
  assert.equal(createHash("sha256").update(readFileSync(binaryPackage(tmp).file)).digest("hex"), p.sha256, "and a removed one");
});
