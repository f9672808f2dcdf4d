// The README's main job: `amphi demo` validates and renders the example, reconciles its local environment
// once from a Git copy (hosts on this machine), records the run and the drift report, and leaves git-notes
// statuses on the commit; a second run finds everything in sync; `--down` undeploys.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";

let config = "";
let cwd = "";
let ports: Record<number, number> = {};

before(async () => {
  ({ dir: config, ports } = await exampleCopy("amphi-demo-config"));
  cwd = mkdtempSync(join(tmpdir(), `amphi-demo-${process.pid}-`));
});

after(async () => {
  await amphi(["demo", "--repo", config, "--down"], cwd);
  rmSync(cwd, { recursive: true, force: true });
  rmSync(config, { recursive: true, force: true });
});

test("demo reconciles the local environment once, with a run, a report and git-notes statuses", async () => {
  const r = await amphi(["demo", "--repo", config], cwd);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /local applied \(once\) rev [0-9a-f]{12}/);
  assert.match(r.stdout, /No changes\. local is up to date \(2 resources\)/);
  assert.match(r.stdout, /amphi\/local\/billing\s+success\s+1\/1 healthy/);
  assert.match(r.stdout, /amphi\/local\/catalog\s+success\s+1\/1 healthy/);
  assert.ok(existsSync(join(cwd, ".amphi/reports/local/latest.html")));
  const res = await fetch(`http://127.0.0.1:${ports[9100]}/health`);
  assert.equal(res.status, 200);
  const again = await amphi(["demo", "--repo", config], cwd);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /local in-sync \(once\)/);
});
