// PR mode of amphi plan: --base/--head plan only the apps whose files or placements changed plus what
// depends on them (transitively); environment settings put every app in scope; --comment-file holds the
// Markdown plan; the status amphi/plan/<env> goes to the head commit through the reporter seam.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "@commander-js/extra-typings";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { commitAll, git, initRepo, writeFiles } from "../support/git-repo.js";
import { planCommand } from "../../src/cli/plan.js";
import type { CommitStatus, StatusReporter } from "../../src/ports/status.js";
import { parseNameStatus } from "../../src/adapters/watch/git-diff.js";
import { prScope } from "../../src/reconcile/pr-scope.js";

let dir = "";
const ACTUAL = "empty-prod.json";

before(async () => {
  ({ dir } = await exampleCopy("amphi-pr"));
  writeFiles(dir, { ".gitignore": "*.json\n*.md\n", [ACTUAL]: JSON.stringify({ env: "prod", resources: [] }) });
  await initRepo(dir);
  await commitAll(dir, "example config");
});

after(() => rmSync(dir, { recursive: true, force: true }));

function edit(path: string, from: string | RegExp, to: string): void {
  const file = join(dir, path);
  const text = readFileSync(file, "utf8");
  const next = text.replace(from, to);
  assert.notEqual(next, text, `${path}: nothing replaced`);
  writeFileSync(file, next);
}

const pr = (...extra: string[]) => amphi(["plan", "--env", "prod", "--repo", dir, "--actual", ACTUAL, "--base", "HEAD~1", "--head", "HEAD", ...extra], dir);

/** Apps named in the plan's steps (host capture rules, which belong to no app, are left out). */
function appsOf(json: string): string[] {
  const plan = JSON.parse(json) as { steps: { app: string | null }[] };
  return [...new Set(plan.steps.flatMap((s) => (s.app ? [s.app] : [])))].sort();
}

/** Targets of the host rules (app null) in the plan. */
function ruleTargets(json: string): string[] {
  const plan = JSON.parse(json) as { steps: { app: string | null; target: string }[] };
  return [...new Set(plan.steps.filter((s) => s.app === null).map((s) => s.target))].sort();
}

test("an app's files changed: that app and what depends on it (transitively) are planned, nothing else", async () => {
  edit("apps/catalog/spec.yaml", "value: info", "value: debug");
  await commitAll(dir, "catalog: debug logs");
  const r = await pr("--format", "json", "--comment-file", "comment.md");
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(appsOf(r.stdout), ["catalog", "web"]);
  assert.deepEqual(ruleTargets(r.stdout), ["legacy/vm-1", "legacy/vm-2"], "capture rules only where catalog runs (not vm-3)");
  assert.match(r.stderr, /PR mode [0-9a-f]{12}\.\.[0-9a-f]{12}: planning catalog \(apps\/catalog\/ changed\), web \(depends on catalog\)/);
  const comment = readFileSync(join(dir, "comment.md"), "utf8");
  assert.match(comment, /^### amphi plan · `prod` · `[0-9a-f]{7}`\.\.`[0-9a-f]{7}`\n\nIn scope: catalog \(apps\/catalog\/ changed\), web \(depends on catalog\)\n\n/);
  assert.match(comment, /catalog/);
  assert.doesNotMatch(comment, /billing/);
});

test("a placement changed: the app, and transitive dependents (user → billing, web)", async () => {
  edit("environments/prod.yaml", "cluster: us1\n    replicas: 2", "cluster: us1\n    replicas: 4");
  await commitAll(dir, "user: 4 replicas in us1");
  const r = await pr("--format", "json");
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(appsOf(r.stdout), ["billing", "user", "web"]);
  assert.match(r.stderr, /billing \(depends on user\), user \(placement in environments\/prod changed\), web \(depends on user\)/);
});

test("environment settings changed: every app is in scope; no change: nothing is", async () => {
  edit("environments/prod.yaml", "checkTTL: 15s", "checkTTL: 20s");
  await commitAll(dir, "consul: check TTL 20s");
  const all = await pr("--format", "json");
  assert.equal(all.code, 2, all.stderr);
  assert.deepEqual(appsOf(all.stdout), ["billing", "catalog", "user", "web"]);
  assert.deepEqual(ruleTargets(all.stdout), ["legacy/vm-1", "legacy/vm-2", "legacy/vm-3"]);
  assert.match(all.stderr, /every app \(settings of environments\/prod other than placements changed\)/);
  const none = await amphi(["plan", "--env", "prod", "--repo", dir, "--actual", ACTUAL, "--base", "HEAD"], dir);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stderr, /planning no app/);
  assert.match(none.stdout, /^No changes\. prod is up to date \(0 resources\)\.$/m);
});

test("the plan status goes to the head commit through the reporter", async () => {
  edit("apps/billing/spec.yaml", "value: 2.3.0", "value: 2.3.0-pr");
  const head = await commitAll(dir, "billing env");
  const posted: { sha: string; statuses: readonly CommitStatus[] }[] = [];
  const fake: StatusReporter = { provider: "fake", post: async (sha, statuses) => (posted.push({ sha, statuses }), statuses.map((s) => ({ context: s.context, ok: true, httpStatus: null, attempts: 1, error: null }))) };
  let code = -1;
  let out = "";
  let err = "";
  const program = new Command().exitOverride();
  planCommand(program, { out: (t) => void (out += t), err: (t) => void (err += t), cwd: dir, env: process.env }, (c) => (code = c), { reporter: () => fake });
  await program.parseAsync(["plan", "--env", "prod", "--repo", dir, "--actual", ACTUAL, "--base", "HEAD~1"], { from: "user" });
  assert.equal(code, 2, err);
  assert.equal(posted.length, 1);
  assert.equal(posted[0]!.sha, head);
  assert.equal(posted[0]!.statuses[0]!.context, "amphi/plan/prod");
  assert.equal(posted[0]!.statuses[0]!.state, "success");
  assert.match(posted[0]!.statuses[0]!.description, /^\d+ to create, 0 to update, 0 to delete · 1 app in scope$/);
  assert.match(out, /billing/);
});

test("plan without --base is unchanged; bad PR options are refused", async () => {
  const full = await amphi(["plan", "--env", "prod", "--repo", dir, "--actual", ACTUAL, "--format", "json"], dir);
  assert.equal(full.code, 2);
  assert.doesNotMatch(full.stderr, /PR mode/);
  const headOnly = await amphi(["plan", "--env", "prod", "--repo", dir, "--actual", ACTUAL, "--head", "HEAD"], dir);
  assert.equal(headOnly.code, 1);
  assert.match(headOnly.stderr, /--head and --comment-file need --base/);
  const bad = await amphi(["plan", "--env", "prod", "--repo", dir, "--actual", ACTUAL, "--base", "nope"], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown revision "nope"/);
  assert.equal(await git(dir, "status", "--porcelain"), "", "nothing was written into the repo but ignored files");
});

test("name-status parsing and scope rules (pure)", () => {
  assert.deepEqual(parseNameStatus("M\0apps/a/spec.yaml\0R097\0apps/b/x\0apps/c/x\0D\0environments/e.yaml\0"), [
    { status: "M", path: "apps/a/spec.yaml" },
    { status: "R", from: "apps/b/x", path: "apps/c/x" },
    { status: "D", path: "environments/e.yaml" },
  ]);
  assert.deepEqual(parseNameStatus(""), []);
  const model = { source: "", revision: null, apps: [], environments: [{ name: "e", placements: [] }] } as never;
  const s = prScope([{ status: "R", from: "apps/b/x", path: "apps/c/x" }], model, model, "e");
  assert.deepEqual([...s.apps.keys()], ["b", "c"], "a rename touches both apps");
  assert.equal(prScope([], null, model, "e").all, true, "a base without the environment: everything");
});
