// The git calls of the loop, through simple-git and through a plain spawn (runGit), on a local repo:
// a no-change `fetch -v` into a bare mirror, and PR mode's `diff --name-status -z -M base head`.
// Usage: node --import tsx bench/loop/git-calls.ts [rounds=30]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleGit } from "simple-git";
import { runGit } from "../../src/adapters/git/run-git.js";
import { GitMirror } from "../../src/adapters/watch/git-mirror.js";
import { exampleCopy } from "../../test/support/example-copy.js";
import { commitAll, initRepo, writeFiles } from "../../test/support/git-repo.js";
import { setBillingEnv } from "../../test/loop/support.js";

const ROUNDS = Number(process.argv[2] ?? 30);
const { dir } = await exampleCopy("amphi-bench-git");
await initRepo(dir);
await commitAll(dir, "one");
setBillingEnv(dir, "2.3.0-x");
writeFiles(dir, { "apps/extra/spec.yaml": "x: 1\n" });
await commitAll(dir, "two");
const state = mkdtempSync(join(tmpdir(), "amphi-bench-git-state-"));
const mirror = join(state, "mirror");
await new GitMirror(`file://${dir}`, mirror).fetch(["main"]);

async function time(label: string, f: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 3; i++) await f();
  const xs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await f();
    xs.push(performance.now() - t0);
  }
  xs.sort((a, b) => a - b);
  console.log(`${label.padEnd(52)} p50 ${xs[Math.floor(xs.length / 2)]!.toFixed(1).padStart(6)} ms   p90 ${xs[Math.floor(xs.length * 0.9)]!.toFixed(1).padStart(6)} ms`);
}

const sg = simpleGit({ baseDir: mirror });
const fetchArgs = ["fetch", "--no-tags", "--no-write-fetch-head", `file://${dir}`, "+refs/heads/main:refs/heads/main"];
try {
  await time("no-change fetch, simple-git raw (quiet)", () => sg.raw(fetchArgs));
  await time("no-change fetch, simple-git raw with -v", () => sg.raw([fetchArgs[0]!, "-v", ...fetchArgs.slice(1)]));
  await time("no-change fetch, spawn", () => runGit(mirror, fetchArgs));
  await time("GitMirror.fetch (fetch + rev-parse, spawnPiped)", () => new GitMirror(`file://${dir}`, mirror).fetch(["main"]));
  const diff = ["diff", "--name-status", "-z", "-M", "--relative", "HEAD~1", "HEAD", "--", "apps", "environments"];
  await time("diff --name-status, simple-git raw", () => simpleGit({ baseDir: dir }).raw(diff));
  await time("diff --name-status, spawn", () => runGit(dir, diff));
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
}
