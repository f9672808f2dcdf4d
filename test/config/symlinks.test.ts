// Symlinks in the working tree: a link that leaves the config repo (or points into .git) is refused with a
// located error naming the file and where the link points — its target's content never reaches a message,
// and a symlinked package is never read (so never uploaded to a host). A symlink loop is a located error,
// not a raw ELOOP. Links that stay inside the repo keep working (they only name what is reviewed anyway).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { PackageResolver } from "../../src/adapters/packages/resolver.js";
import { loadModel } from "../../src/config/index.js";
import { ConfigError, formatProblem, type HostInstance } from "../../src/model/index.js";
import { BASE_REPO, withDir } from "./helpers.js";

let outside = "";
const SECRET = "root:x:0:0:OUTSIDE-SECRET-CONTENT";
before(() => {
  outside = mkdtempSync(join(tmpdir(), `amphi-outside-${process.pid}-`));
  writeFileSync(join(outside, "passwd"), `${SECRET}\n`);
  mkdirSync(join(outside, "pkgs"));
  writeFileSync(join(outside, "pkgs/api.tar.gz"), SECRET);
});
after(() => rmSync(outside, { recursive: true, force: true }));

/** The base repo with `links` (repo path → link target) added; returns every problem, formatted. */
async function problemsWithLinks(links: Record<string, string>, files: Record<string, string | null> = {}): Promise<string[]> {
  return withDir({ ...BASE_REPO, ...files }, async (dir) => {
    for (const [path, target] of Object.entries(links)) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      symlinkSync(target, join(dir, path));
    }
    try {
      await loadModel(new DirSource(dir));
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      assert.ok(!e.message.includes("OUTSIDE-SECRET"), "the target's content is never in a message");
      return e.problems.map(formatProblem);
    }
  });
}

test("symlinks: a spec.yaml linked to a file outside the repo is a located error naming the link's target", async () => {
  const target = join(outside, "passwd");
  assert.deepEqual(await problemsWithLinks({ "apps/x/spec.yaml": target }), [
    `apps/x/spec.yaml:0:0: apps/x/spec.yaml is a symlink to ${target}, outside the config repo; amphi reads only files inside the repo`,
  ]);
});

test("symlinks: a package path linked out of the repo (the file, or a directory on its way) is a located error", async () => {
  const file = join(outside, "pkgs/api.tar.gz");
  assert.deepEqual(await problemsWithLinks({ "packages/api.tar.gz": file }, { "packages/api.tar.gz": null }), [
    `apps/api/spec.yaml:15:11 /spec/package/path: package file "packages/api.tar.gz": packages/api.tar.gz is a symlink to ${file}, outside the config repo; amphi reads only files inside the repo`,
  ]);
  const dir = join(outside, "pkgs");
  const problems = await problemsWithLinks({ "vendor": dir }, { "apps/api/spec.yaml": BASE_REPO["apps/api/spec.yaml"]!.replace("path: packages/api.tar.gz", "path: vendor/api.tar.gz") });
  assert.deepEqual(problems, [
    `apps/api/spec.yaml:15:11 /spec/package/path: package file "vendor/api.tar.gz": vendor is a symlink to ${dir}, outside the config repo; amphi reads only files inside the repo`,
  ]);
});

test("symlinks: at the point of use, a symlinked package is never read, so never uploaded", async () => {
  await withDir({}, async (dir) => {
    mkdirSync(join(dir, "packages"));
    symlinkSync(join(outside, "pkgs/api.tar.gz"), join(dir, "packages/api.tar.gz"));
    const source = new DirSource(dir);
    await assert.rejects(source.readBytes("packages/api.tar.gz"), (e: Error) => e.name === "RepoFileError" && !e.message.includes("OUTSIDE-SECRET"));
    const resolver = new PackageResolver(source, join(dir, "cache"));
    const instance = { app: "api", version: "1.0.0", package: { path: "packages/api.tar.gz" }, sha256: "a".repeat(64) } as unknown as HostInstance;
    await assert.rejects(resolver.file(instance), (e: Error) => {
      assert.equal(e.name, "TaskError");
      assert.equal(e.message, `api@1.0.0: package packages/api.tar.gz refused: packages/api.tar.gz is a symlink to ${join(outside, "pkgs/api.tar.gz")}, outside the config repo; amphi reads only files inside the repo`);
      return true;
    });
  });
});

test("symlinks: a whole app folder linked out of the repo, and a link into .git, are refused", async () => {
  mkdirSync(join(outside, "app"), { recursive: true });
  writeFileSync(join(outside, "app/spec.yaml"), SECRET);
  assert.deepEqual(await problemsWithLinks({ "apps/x": join(outside, "app") }), [
    `apps/x:0:0: apps/x is a symlink to ${join(outside, "app")}, outside the config repo; amphi reads only files inside the repo`,
  ]);
  assert.deepEqual(await problemsWithLinks({ "apps/x/spec.yaml": "../../.git/config" }, { ".git/config": "[remote]\n  url = https://token@example.com\n" }), [
    `apps/x/spec.yaml:0:0: apps/x/spec.yaml is a symlink to ../../.git/config, inside .git; amphi reads only files inside the repo`,
  ]);
});

test("symlinks: loops are located errors, not ELOOP", async () => {
  assert.deepEqual(await problemsWithLinks({ "apps/x/spec.yaml": "spec.yaml" }), [
    `apps/x/spec.yaml:0:0: apps/x/spec.yaml is a symlink loop (it points to spec.yaml); amphi reads only files inside the repo`,
  ]);
  // Inside an app folder amphi reads spec.yaml by name and lists nothing: a loop beside it is never followed.
  assert.deepEqual(await problemsWithLinks({ "apps/api/again": ".." }), []);
  // An app folder that is a link looping to itself is no folder (as a dangling one).
  assert.deepEqual(await problemsWithLinks({ "apps/loop": "loop" }), []);
});

test("symlinks: links inside the repo still work (a package under a second name, an app folder)", async () => {
  assert.deepEqual(await problemsWithLinks({ "packages/current.tar.gz": "api.tar.gz" }, { "apps/api/spec.yaml": BASE_REPO["apps/api/spec.yaml"]!.replace("packages/api.tar.gz", "packages/current.tar.gz") }), []);
  await withDir(BASE_REPO, async (dir) => {
    mkdirSync(join(dir, "shared"));
    writeFileSync(join(dir, "shared/spec.yaml"), BASE_REPO["apps/db/spec.yaml"]!);
    rmSync(join(dir, "apps/db"), { recursive: true });
    symlinkSync("../shared", join(dir, "apps/db"));
    const model = await loadModel(new DirSource(dir));
    assert.deepEqual(model.apps.map((a) => a.name), ["api", "db"]);
  });
});

test("symlinks: a package path into .git itself is refused like a link there", async () => {
  const problems = await problemsWithLinks({}, { ".git/config": "[remote]\n  url = https://token@example.com\n", "apps/api/spec.yaml": BASE_REPO["apps/api/spec.yaml"]!.replace("path: packages/api.tar.gz", "path: .git/config") });
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(problems[0]!, /^apps\/api\/spec\.yaml:15:11 \/spec\/package\/path: package file "\.git\/config": \.git\/config resolves to \/.*\/\.git\/config, inside \.git; amphi reads only files inside the repo$/);
});

test("symlinks: a secrets file linked out of the repo (or looping) is a located error, not an aborted load", async () => {
  const target = join(outside, "passwd");
  assert.deepEqual(await problemsWithLinks({ "environments/prod.secrets.yaml": target }), [
    `environments/prod.secrets.yaml:0:0: environments/prod.secrets.yaml is a symlink to ${target}, outside the config repo; amphi reads only files inside the repo`,
  ]);
  assert.deepEqual(await problemsWithLinks({ "environments/prod.secrets.yaml": "prod.secrets.yaml" }), [
    `environments/prod.secrets.yaml:0:0: environments/prod.secrets.yaml is a symlink loop (it points to prod.secrets.yaml); amphi reads only files inside the repo`,
  ]);
});

test("symlinks: a listed file replaced by a link out of the repo before it is read is refused, not read; one replaced by a directory reads as absent", async () => {
  await withDir(BASE_REPO, async (dir) => {
    const source = new DirSource(dir);
    const listed = await source.list("apps");
    const [spec, other] = listed.filter((p) => p.endsWith("/spec.yaml"));
    assert.ok(spec && other, `two spec files listed: ${listed.join(", ")}`);
    rmSync(join(dir, spec));
    symlinkSync(join(outside, "passwd"), join(dir, spec));
    await assert.rejects(source.read(spec), (e: Error) => e.message.includes("outside the config repo") && !e.message.includes("OUTSIDE-SECRET"));
    rmSync(join(dir, other));
    mkdirSync(join(dir, other));
    assert.equal(await source.read(other), null);
  });
});
