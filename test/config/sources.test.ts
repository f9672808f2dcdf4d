// ConfigSource adapters against real directories and real Git repositories in temp dirs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { GitRevSource } from "../../src/adapters/git/rev-source.js";
import { loadModel } from "../../src/config/index.js";
import { ConfigError, InputError } from "../../src/model/index.js";
import { git, tempRepo, writeFiles, type TempRepo } from "../support/git-repo.js";
import { BASE_REPO, PROD_ENV, withDir } from "./helpers.js";

let repo: TempRepo;
let first: string;
let second: string;

before(async () => {
  repo = await tempRepo(BASE_REPO, "base");
  first = await git(repo.dir, "rev-parse", "HEAD");
  repo.write({ "environments/prod.yaml": PROD_ENV.replace("    cluster: eu1\n", "    cluster: eu1\n    replicas: 4\n") });
  second = await repo.commit("api: 4 replicas");
  // The working tree now differs from every commit, and is invalid.
  repo.write({ "environments/prod.yaml": "spec: [broken\n", "apps/extra/spec.yaml": "apiVersion: v1\n" });
});
after(() => repo.cleanup());

test("a Git revision is read as committed, not as the working tree", async () => {
  await assert.rejects(loadModel(new DirSource(repo.dir)), ConfigError);
  const source = new GitRevSource(repo.dir, "HEAD");
  const model = await loadModel(source);
  assert.equal(model.revision, second);
  assert.equal(model.source, `${repo.dir}@HEAD`);
  assert.deepEqual(model.apps.map((a) => a.name), ["api", "db"]);
  const placement = model.environments[0]!.placements[0]!;
  assert.equal(placement.type === "cluster" && placement.container.replicas, 4);
  source.close();
});

test("an older revision gives the older content", async () => {
  const model = await loadModel(new GitRevSource(repo.dir, "HEAD~1"));
  assert.equal(model.revision, first);
  const placement = model.environments[0]!.placements[0]!;
  assert.equal(placement.type === "cluster" && placement.container.replicas, 1);
});

test("unknown revisions and non-repositories fail with clear errors", async () => {
  const fail = (dir: string, rev: string) => new GitRevSource(dir, rev).revision();
  await assert.rejects(fail(repo.dir, "no-such-branch"), new InputError(`unknown revision "no-such-branch" in ${repo.dir}`));
  await assert.rejects(fail(repo.dir, "--output=/tmp/x"), new InputError(`unknown revision "--output=/tmp/x" in ${repo.dir}`));
  await withDir({ "a.txt": "x" }, async (dir) => {
    await assert.rejects(fail(dir, "HEAD"), new InputError(`not a git repository: ${dir}`));
    await assert.rejects(fail(join(dir, "missing"), "HEAD"), new InputError(`not a git repository: ${join(dir, "missing")} (no such directory)`));
  });
});

test("list, read and exists at a revision; the source may be a subdirectory of the repository", async () => {
  const sub = await tempRepo({ "config/apps/a b/spec.yaml": "x: 1\n", "config/apps/z.txt": "z", "config/apps/a/spec.yaml": "y: 2\n", "README.md": "r" }, "init");
  try {
    const source = new GitRevSource(join(sub.dir, "config"), "main");
    assert.deepEqual(await source.list("apps"), ["apps/a b/spec.yaml", "apps/a/spec.yaml", "apps/z.txt"]);
    assert.deepEqual(await source.list("apps/"), await source.list("apps"));
    assert.deepEqual(await source.list("environments"), []);
    assert.deepEqual(await source.folders("apps"), ["a", "a b"]);
    assert.deepEqual(await source.folders("apps/"), ["a", "a b"]);
    assert.deepEqual(await source.folders(""), ["apps"]);
    assert.deepEqual(await source.folders("environments"), []);
    assert.equal(await source.read("apps/a b/spec.yaml"), "x: 1\n");
    assert.equal(await source.read("apps/missing.yaml"), null);
    assert.equal(await source.read("apps/a"), null, "a directory is not a file");
    assert.equal(await source.read("README.md"), null, "outside the subdirectory");
    assert.equal(await source.exists("apps/z.txt"), true);
    assert.equal(await source.exists("apps"), false);
    await assert.rejects(source.read("../README.md"), /outside the config repo/);
    source.close();
  } finally {
    sub.cleanup();
  }
});

test("many reads through one git process all get their own answers", async () => {
  const files = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`apps/a${i}/spec.yaml`, `n: ${i}\n${"x".repeat(i * 37)}\n`]));
  const many = await tempRepo(files, "many");
  try {
    const source = new GitRevSource(many.dir, "HEAD");
    const paths = await source.list("apps");
    assert.equal(paths.length, 300);
    const texts = await Promise.all(paths.map((p) => source.read(p)));
    paths.forEach((p, i) => assert.equal(texts[i], files[p]));
    source.close();
    assert.equal(await source.read(paths[0]!), files[paths[0]!], "reopens after close");
    source.close();
  } finally {
    many.cleanup();
  }
});

test("a directory source lists recursively and sorted, skips .git, and refuses paths outside the repo", async () => {
  await withDir({ "apps/b/spec.yaml": "b", "apps/a/spec.yaml": "a", "apps/a/x/y.txt": "y", ".git/config": "g" }, async (dir) => {
    const source = new DirSource(dir);
    assert.deepEqual(await source.list("apps"), ["apps/a/spec.yaml", "apps/a/x/y.txt", "apps/b/spec.yaml"]);
    assert.deepEqual(await source.list(""), ["apps/a/spec.yaml", "apps/a/x/y.txt", "apps/b/spec.yaml"]);
    assert.deepEqual(await source.list("nothing"), []);
    assert.equal(await source.read("apps/a/spec.yaml"), "a");
    assert.equal(await source.read("apps/none.yaml"), null);
    assert.equal(await source.read("apps/a"), null);
    assert.equal(await source.exists("apps/a/x/y.txt"), true);
    assert.equal(await source.exists("apps/a/x"), false);
    assert.equal(await source.revision(), null);
    await assert.rejects(source.read("../etc/passwd"), /outside the config repo/);
    await assert.rejects(source.exists("/etc/passwd"), /outside the config repo/);
    mkdirSync(join(dir, "empty"));
    writeFiles(dir, { "apps/b/spec.yaml": null });
    assert.deepEqual(await source.list("apps"), ["apps/a/spec.yaml", "apps/a/x/y.txt"]);
    rmSync(join(dir, "empty"), { recursive: true });
  });
});

test("a directory source's folders: names directly under the prefix, links to folders inside the repo included; files in them are read by name", async () => {
  await withDir({ "apps/b/spec.yaml": "b", "apps/a/spec.yaml": "a", "apps/a/x/y.txt": "y", "apps/z.txt": "z", "shared/c/spec.yaml": "c", ".git/config": "g" }, async (dir) => {
    symlinkSync("../shared/c", join(dir, "apps/c"));
    symlinkSync("nowhere", join(dir, "apps/dangling"));
    symlinkSync("z.txt", join(dir, "apps/file-link"));
    const source = new DirSource(dir);
    assert.deepEqual(await source.folders("apps"), ["a", "b", "c"]);
    assert.deepEqual(await source.folders(""), ["apps", "shared"], ".git is skipped");
    assert.deepEqual(await source.folders("nothing"), []);
    assert.equal(await source.read("apps/a/spec.yaml"), "a");
    assert.equal(await source.read("apps/c/spec.yaml"), "c", "through the folder link");
    assert.equal(await source.read("apps/a/x"), null, "a directory is not a file");
    assert.equal(await source.read("apps/b/missing.yaml"), null);
    // Read by name in a listed folder: a spec.yaml that is a link is checked as any link (this one leaves).
    symlinkSync("/etc/hostname", join(dir, "apps/b/spec.yaml.link"));
    await assert.rejects(source.read("apps/b/spec.yaml.link"), /outside the config repo/);
    // A FIFO is no file: it is answered without waiting for a writer.
    execFileSync("mkfifo", [join(dir, "apps/b/fifo.yaml")]);
    assert.equal(await source.read("apps/b/fifo.yaml"), null);
    // A folder link leaving the repo throws, naming it (skipping it would drop an app).
    symlinkSync(tmpdir(), join(dir, "apps/away"));
    await assert.rejects(source.folders("apps"), /apps\/away is a symlink to .*outside the config repo/);
  });
});
