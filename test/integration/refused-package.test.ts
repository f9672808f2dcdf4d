// A package the host refuses, through the CLI on the example's `local` environment: one that unpacks past
// the host group's maxUnpackedSize, and one tar cannot read. The deploy fails naming the package and the
// reason, and the package is cached neither on the host nor in amphi's own cache.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { processesUnder, sha256File } from "../support/local-host.js";

let dir = "";
let ports: Record<number, number> = {};
const specFile = () => join(dir, "apps/billing/spec.yaml");
const envFile = () => join(dir, "environments/local.yaml");
const hostCache = (sha: string) => join(dir, ".amphi/hosts/here/packages", sha);
const amphiCache = (sha: string) => join(dir, ".amphi/cache/packages", sha);

before(async () => {
  ({ dir, ports } = await exampleCopy("amphi-refused-package"));
  writeFileSync(envFile(), readFileSync(envFile(), "utf8").replace("    maxUnavailable: 1\n", "    maxUnavailable: 1\n    maxUnpackedSize: 1MiB\n"));
});

after(async () => {
  await amphi(["demo", "--repo", dir, "--down"], dir).catch(() => {});
  for (const p of processesUnder(dir)) process.kill(p.pid, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Points billing's spec at `packages/<name>` (its sha256 computed here). */
function useBillingPackage(name: string): string {
  const sha = sha256File(join(dir, "packages", name));
  const text = readFileSync(specFile(), "utf8")
    .replace(/path: packages\/\S+/, `path: packages/${name}`)
    .replace(/sha256: [0-9a-f]{64}/, `sha256: ${sha}`)
    .replace(/version: \S+/, `version: ${name.replace(/^billing-|\.tar\.gz$/g, "")}`);
  writeFileSync(specFile(), text);
  return sha;
}

test("a package past maxUnpackedSize is refused naming package, size and limit, and cached nowhere", async () => {
  const src = join(dir, "big.src");
  mkdirSync(src);
  const r = spawnSync("sh", ["-c", `tar -xzf "$1" -C "$2" && head -c 2097152 /dev/zero > "$2/blob" && tar -czf "$3" -C "$2" .`, "sh", join(dir, "packages/billing-2.3.0.tar.gz"), src, join(dir, "packages/billing-2.3.9.tar.gz")]);
  assert.equal(r.status, 0, String(r.stderr));
  const sha = useBillingPackage("billing-2.3.9.tar.gz");
  const out = await amphi(["apply", "--env", "local", "--repo", dir, "--yes"], dir);
  assert.notEqual(out.code, 0);
  assert.match(out.stdout + out.stderr, new RegExp(`billing@2\\.3\\.9: package packages/billing-2\\.3\\.9\\.tar\\.gz \\(sha256 ${sha.slice(0, 12)}…\\) unpacks to 2\\.0 MiB \\(\\d+ bytes\\), more than maxUnpackedSize 1\\.0 MiB of host group here; refused and removed from the host`));
  assert.equal(existsSync(hostCache(sha)), false, "not cached on the host");
  assert.equal(existsSync(amphiCache(sha)), false, "not cached by amphi");
  assert.equal(existsSync(join(dir, ".amphi/hosts/here/apps/billing/releases")), false, "nothing unpacked");

  writeFileSync(envFile(), readFileSync(envFile(), "utf8").replace("maxUnpackedSize: 1MiB", "maxUnpackedSize: 3MiB"));
  const ok = await amphi(["apply", "--env", "local", "--repo", dir, "--yes"], dir);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const res = await fetch(`http://127.0.0.1:${ports[9100]}/health`).catch(() => null);
  assert.equal(res?.status, 200);
});

test("a package tar cannot read is refused with tar's reason and cached nowhere", async () => {
  writeFileSync(join(dir, "packages/billing-2.4.0.tar.gz"), "not a tarball at all\n");
  const sha = useBillingPackage("billing-2.4.0.tar.gz");
  const out = await amphi(["apply", "--env", "local", "--repo", dir, "--yes"], dir);
  assert.notEqual(out.code, 0);
  assert.match(out.stdout + out.stderr, /billing@2\.4\.0: cannot unpack package packages\/billing-2\.4\.0\.tar\.gz \(sha256 \w{12}…\): gzip: stdin: not in gzip format; removed it from the host/);
  assert.equal(existsSync(hostCache(sha)), false);
  assert.equal(existsSync(amphiCache(sha)), false);
  const res = await fetch(`http://127.0.0.1:${ports[9100]}/health`).catch(() => null);
  assert.equal(res?.status, 200, "2.3.9 keeps serving");
});
