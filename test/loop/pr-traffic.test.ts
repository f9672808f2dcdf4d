// PR mode and traffic policy: a change of one service's `spec.traffic` in the environment file puts only the app
// declaring that service in scope, and plans only its `mesh` item, in text, JSON and Markdown (the comment).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { commitAll, initRepo, writeFiles } from "../support/git-repo.js";

let dir = "";

before(async () => {
  ({ dir } = await exampleCopy("amphi-pr-traffic"));
  writeFiles(dir, { ".gitignore": "*.json\n*.md\n" });
  await initRepo(dir);
  await commitAll(dir, "example config");
  // The base as deployed: its own rendering as the actual state.
  const actual = await amphi(["render", "--repo", dir, "--env", "prod", "--as-actual"], dir);
  assert.equal(actual.code, 0, actual.stderr);
  writeFileSync(join(dir, "actual.json"), actual.stdout);
  const env = join(dir, "environments/prod.yaml");
  const text = readFileSync(env, "utf8");
  const next = text.replace(/(billing:\n\s+timeout: )2s/, "$13s");
  assert.notEqual(next, text, "billing's timeout is 2s in the example");
  writeFileSync(env, next);
  await commitAll(dir, "billing: timeout 3s");
});

after(() => rmSync(dir, { recursive: true, force: true }));

const pr = (...extra: string[]) => amphi(["plan", "--env", "prod", "--repo", dir, "--actual", "actual.json", "--base", "HEAD~1", "--head", "HEAD", ...extra], dir);

test("a traffic-only change: only the service's app is in scope, and only its mesh item is planned", async () => {
  const text = await pr("--comment-file", "comment.md");
  assert.equal(text.code, 2, text.stderr);
  assert.match(text.stderr, /planning billing \(traffic policy of billing in environments\/prod changed\)/);
  const steps = text.stdout.trim().split("\n").filter((l) => l.startsWith("wave"));
  assert.equal(steps.length, 1, text.stdout);
  assert.match(steps[0]!, /^wave 2 +mesh +xds +billing +update +billing +timeout 2s→3s$/);
  assert.match(readFileSync(join(dir, "comment.md"), "utf8"), /\| mesh \| xds \| billing \| update \| `billing` \| `timeout 2s→3s` \|/);
  const json = JSON.parse((await pr("--format", "json")).stdout) as { summary: { update: number; create: number; delete: number }; steps: unknown[] };
  assert.deepEqual(json.steps, [{ wave: 2, runtime: "mesh", target: "xds", app: "billing", op: "update", key: "mesh/billing", object: "billing", fields: [{ path: "timeout", from: "2s", to: "3s" }] }]);
  assert.deepEqual([json.summary.create, json.summary.update, json.summary.delete], [0, 1, 0]);
});
