// Two environments whose host groups share one baseDir (the default /opt/amphi is the same for every
// environment): the second environment must refuse the claimed baseDir, never undeploy or adopt what the
// first one deployed there.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { processesUnder } from "../support/local-host.js";

let dir = "";
let ports: Record<number, number> = {};
const hostDir = () => join(dir, ".amphi/hosts/here");
const claimed = /localhost: \/\S*\/\.amphi\/hosts\/here belongs to environment local2 \(state\.json\); give environment local its own baseDir \(hostGroups\[\]\.baseDir\)/;

before(async () => {
  ({ dir, ports } = await exampleCopy("amphi-shared-base"));
  // local2: the same host group and baseDir as local, with billing only
  const local = readFileSync(join(dir, "environments/local.yaml"), "utf8");
  writeFileSync(join(dir, "environments/local2.yaml"), local.replace(/  - app: catalog\n    hostGroup: here\n/, ""));
});

after(async () => {
  await amphi(["demo", "--repo", dir, "--down"], dir).catch(() => {});
  for (const p of processesUnder(dir)) process.kill(p.pid, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function health(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
  return res?.status ?? 0;
}

test("a second environment on a claimed baseDir is refused and the first one's app keeps running", async () => {
  const first = await amphi(["apply", "--env", "local2", "--repo", dir, "--yes"], dir);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await health(ports[9100]!), 200);
  const stateBefore = readFileSync(join(hostDir(), "state.json"), "utf8");
  const billingPid = readFileSync(join(hostDir(), "run/billing.pid"), "utf8");

  const plan = await amphi(["plan", "--env", "local", "--repo", dir], dir);
  assert.match(plan.stdout + plan.stderr, claimed, "plan names the claim instead of planning creates");
  assert.match(plan.stdout, /0 to create, 0 to update, 0 to delete/);
  assert.equal(plan.code, 3, "a plan that could not see the claimed host is not 'no changes'");

  const second = await amphi(["apply", "--env", "local", "--repo", dir, "--yes"], dir);
  assert.equal(second.code, 3, "an apply that could not see its host is not a success");
  assert.match(second.stdout + second.stderr, claimed);
  assert.equal(await health(ports[9100]!), 200, "local2's billing keeps running");
  assert.equal(await health(ports[8080]!), 0, "local's catalog was not started in local2's baseDir");
  assert.equal(readFileSync(join(hostDir(), "state.json"), "utf8"), stateBefore, "local2's record is untouched");
  assert.equal(readFileSync(join(hostDir(), "run/billing.pid"), "utf8"), billingPid, "billing was not restarted");

  const back = await amphi(["plan", "--env", "local2", "--repo", dir], dir);
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.match(back.stdout, /No changes\. local2 is up to date/);
});

test("once the owner has undeployed everything, another environment may take the baseDir", async () => {
  const local2 = join(dir, "environments/local2.yaml");
  const placed = readFileSync(local2, "utf8");
  writeFileSync(local2, placed.replace(/  placements:\n  - app: billing\n    hostGroup: here\n/, "  placements: []\n"));
  const down = await amphi(["apply", "--env", "local2", "--repo", dir, "--yes"], dir);
  assert.equal(down.code, 0, down.stdout + down.stderr);
  assert.equal(await health(ports[9100]!), 0);
  const up = await amphi(["apply", "--env", "local", "--repo", dir, "--yes"], dir);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.equal(await health(ports[9100]!), 200);
  assert.equal(JSON.parse(readFileSync(join(hostDir(), "state.json"), "utf8")).env, "local");
  writeFileSync(local2, placed);
  const other = await amphi(["plan", "--env", "local2", "--repo", dir], dir);
  assert.match(other.stdout + other.stderr, /belongs to environment local \(state\.json\); give environment local2 its own baseDir/);
});
