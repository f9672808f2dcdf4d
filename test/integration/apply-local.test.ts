// The main job end to end through the CLI, on the example repo's `local` environment (transport local):
// apply leaves processes answering their health URLs; a second apply changes nothing; a stopped process
// is drift that apply repairs; --async returns a run ID that `tasks wait` follows.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { LocalConnector } from "../../src/adapters/local/index.js";
import { stop } from "../../src/hosts/lifecycle.js";

let dir = "";
let ports: Record<number, number> = {};

before(async () => {
  ({ dir, ports } = await exampleCopy("amphi-apply-local"));
});

after(async () => {
  await amphi(["demo", "--repo", dir, "--down"], dir);
  rmSync(dir, { recursive: true, force: true });
});

async function health(port: number, path: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
  return res?.status ?? 0;
}

test("apply deploys both apps, then nothing is left to change", async () => {
  const first = await amphi(["apply", "--env", "local", "--repo", dir, "--yes"], dir);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /deploy catalog\s+succeeded \(changed\)/);
  assert.equal(await health(ports[9100]!, "/health"), 200);
  assert.equal(await health(ports[8080]!, "/healthz"), 200);
  const plan = await amphi(["plan", "--env", "local", "--repo", dir], dir);
  assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /No changes\. local is up to date \(2 resources\)/);
  const again = await amphi(["apply", "--env", "local", "--repo", dir, "--yes"], dir);
  assert.equal(again.code, 0);
  assert.doesNotMatch(again.stderr + again.stdout, /run r-/, "no run when there is nothing to do");
});

test("a stopped process shows as drift and apply starts it again", async () => {
  const connector = new LocalConnector({ cwd: dir });
  const session = await connector.open({ group: "here", host: "localhost", address: "127.0.0.1", transport: "local", ssh: { user: "x", port: 22, identityFile: null, knownHostsFile: null, proxyJump: null }, baseDir: join(dir, ".amphi/hosts/here") });
  await stop({ session, env: "local", now: () => new Date().toISOString(), log: () => {} }, "billing");
  await connector.closeAll();
  assert.equal(await health(ports[9100]!, "/health"), 0);
  const plan = await amphi(["plan", "--env", "local", "--repo", dir], dir);
  assert.equal(plan.code, 2);
  assert.match(plan.stdout, /vm\s+here\/localhost\s+billing\s+update\s+billing\s+process stopped→running/);
  const fix = await amphi(["apply", "--env", "local", "--repo", dir, "--yes"], dir);
  assert.equal(fix.code, 0, fix.stderr);
  assert.match(fix.stderr, /start billing\s+succeeded/);
  assert.equal(await health(ports[9100]!, "/health"), 200);
});

test("--async prints a run ID; tasks wait follows it to the end; tasks list and show find it", async () => {
  const spec = join(dir, "apps/billing/spec.yaml");
  writeFileSync(spec, readFileSync(spec, "utf8").replace("value: 2.3.0", "value: 2.3.0-async"));
  const started = await amphi(["apply", "--env", "local", "--repo", dir, "--async"], dir);
  assert.equal(started.code, 0, started.stderr);
  const runId = started.stdout.trim();
  assert.match(runId, /^r-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
  const waited = await amphi(["tasks", "wait", runId, "--timeout", "60"], dir);
  assert.equal(waited.code, 0, waited.stderr + waited.stdout);
  assert.match(waited.stdout, new RegExp(`${runId} succeeded`));
  const list = await amphi(["tasks", "list"], dir);
  assert.match(list.stdout, new RegExp(`${runId}\\s+local\\s+succeeded`));
  const show = await amphi(["tasks", "show", `${runId}.1`], dir);
  assert.equal(show.code, 0);
  assert.match(show.stdout, /deploy billing\s+succeeded \(changed\)/);
  const missing = await amphi(["tasks", "show", "r-nope"], dir);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no run or task "r-nope"/);
});
