// The CLI contract: exit codes 0/1/2, --help everywhere, messages that name the file, no stack traces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { commitAll, initRepo } from "../support/git-repo.js";

const tmp = (): string => mkdtempSync(join(tmpdir(), `amphi-cli-${process.pid}-`));

test("--help works on the program and on every command", async () => {
  for (const args of [["--help"], ["validate", "--help"], ["render", "--help"], ["plan", "--help"], ["demo", "--help"]]) {
    const r = await amphi(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /Usage: amphi/);
  }
});

test("validate: the example repo is valid (exit 0)", async () => {
  const r = await amphi(["validate", "--repo", EXAMPLE_REPO]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /4 apps, 3 environments \(local, prod, staging\) — valid/);
});

test("validate: a bad repo exits 1 with located problems and no stack trace", async () => {
  const dir = tmp();
  try {
    cpSync(EXAMPLE_REPO, dir, { recursive: true });
    const spec = join(dir, "apps/user/spec.yaml");
    writeFileSync(spec, readFileSync(spec, "utf8").replace("healthCheck:", "healtCheck:"));
    const r = await amphi(["validate", "--repo", dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^apps\/user\/spec\.yaml:\d+:\d+ \/spec\/services\/0\/healtCheck: .*did you mean "healthCheck"\?/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    const json = await amphi(["validate", "--repo", dir, "--format", "json"]);
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.stdout) as { valid: boolean; problems: { file: string; pointer: string }[] };
    assert.equal(doc.valid, false);
    assert.deepEqual(doc.problems.map((p) => [p.file, p.pointer]), [["apps/user/spec.yaml", "/spec/services/0/healtCheck"]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("plan: exit 2 with changes, exit 0 once the actual state matches, exit 1 on bad input", async () => {
  const dir = tmp();
  try {
    // Never without --actual on the example's prod: that would read live state from its hosts.
    const emptyProd = join(import.meta.dirname, "../fixtures/actual/empty-prod.yaml");
    const empty = await amphi(["plan", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", emptyProd]);
    assert.equal(empty.code, 2, empty.stderr);
    const asActual = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", "prod", "--as-actual"]);
    writeFileSync(join(dir, "actual.json"), asActual.stdout);
    const same = await amphi(["plan", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", "actual.json"], dir);
    assert.equal(same.code, 0, same.stderr + same.stdout);
    const missing = await amphi(["plan", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", "nope.json"], dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.json/);
    const badEnv = await amphi(["plan", "--repo", EXAMPLE_REPO, "--env", "qa"]);
    assert.equal(badEnv.code, 1);
    assert.match(badEnv.stderr, /qa/);
    const badFormat = await amphi(["plan", "--repo", EXAMPLE_REPO, "--env", "prod", "--format", "yaml"]);
    assert.equal(badFormat.code, 1);
    assert.match(badFormat.stderr, /unknown --format "yaml"/);
    const noEnv = await amphi(["plan", "--repo", EXAMPLE_REPO]);
    assert.equal(noEnv.code, 1);
    assert.match(noEnv.stderr, /--env/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("render --out writes one file per cluster and host group and removes stale ones", async () => {
  const dir = tmp();
  try {
    writeFileSync(join(dir, "keep.txt"), "not amphi's");
    const r = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", "prod", "--out", dir]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ["clusters/eu1.yaml", "clusters/us1.yaml", "hostgroups/legacy.yaml"]) assert.ok(existsSync(join(dir, f)), f);
    writeFileSync(join(dir, "clusters/old.yaml"), "kind: Stale\n");
    const again = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", "prod", "--out", dir]);
    assert.match(again.stderr, /removed stale .*clusters\/old\.yaml/);
    assert.ok(!existsSync(join(dir, "clusters/old.yaml")));
    assert.ok(existsSync(join(dir, "keep.txt")), "files amphi did not write are kept");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--rev reads the committed revision, not the working tree", async () => {
  const dir = tmp();
  try {
    cpSync(EXAMPLE_REPO, dir, { recursive: true });
    await initRepo(dir);
    await commitAll(dir, "example");
    writeFileSync(join(dir, "environments/prod.yaml"), "not: [valid\n");
    assert.equal((await amphi(["validate", "--repo", dir])).code, 1);
    const r = await amphi(["validate", "--repo", dir, "--rev", "HEAD"]);
    assert.equal(r.code, 0, r.stderr);
    const bad = await amphi(["validate", "--repo", dir, "--rev", "no-such-branch"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no-such-branch/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tasks: bad numbers are refused naming the option", async () => {
  const limit = await amphi(["tasks", "list", "--limit", "many"]);
  assert.equal(limit.code, 1);
  assert.match(limit.stderr, /--limit must be a positive number, not "many"/);
  const timeout = await amphi(["tasks", "wait", "r-x", "--timeout", "-3"]);
  assert.equal(timeout.code, 1);
  assert.match(timeout.stderr, /--timeout must be a positive number, not "-3"/);
});
