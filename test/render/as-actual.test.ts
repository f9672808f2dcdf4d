// `amphi render --as-actual` never prints a secret value: env values marked `secret: true` read "(secret)", in
// pod env (by the secret-env annotation) and in host instances alike, as in plans. The output still serves
// its purpose: as an --actual file, it plans no changes (a masked value counts as unchanged).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import type { ActualState } from "../../src/model/index.js";
import { amphi } from "../support/cli.js";

test("render --as-actual masks secret env values of pods and hosts; its output plans no changes", async () => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-as-actual-${process.pid}-`));
  try {
    cpSync(EXAMPLE_REPO, dir, { recursive: true });
    const billing = join(dir, "apps/billing/spec.yaml");
    const spec = readFileSync(billing, "utf8").replace("      value: 2.3.0\n", "      value: 2.3.0\n    - name: DB_PASSWORD\n      value: hunter2-on-the-vm\n      secret: true\n");
    writeFileSync(billing, spec);
    const r = await amphi(["render", "--repo", dir, "--env", "prod", "--as-actual"]);
    assert.equal(r.code, 0, r.stderr);
    for (const secret of ["hunter2-on-the-vm"]) assert.ok(!r.stdout.includes(secret), `${secret} is printed`);
    const doc = JSON.parse(r.stdout) as ActualState;
    const web = doc.resources.find((x) => x.key === "k8s/eu1/Deployment/shop/web");
    assert.ok(web && web.runtime === "k8s");
    const containers = (web.object.spec as { template: { spec: { containers: { name: string; env?: { name: string; value: string }[] }[] } } }).template.spec.containers;
    const env = containers.find((c) => c.name === "app")!.env!;
    // Issue 13: a pod's secret is a reference into the app's Secret, whose data reads "(secret)" here.
    const ref = { secretKeyRef: { name: "amphi-secrets-web", key: "SESSION_KEY" } };
    assert.deepEqual(env, [{ name: "CATALOG_URL", value: "http://catalog.mesh:8080" }, { name: "SESSION_KEY", valueFrom: ref }], "only the secret is referenced");
    const secret = doc.resources.find((x) => x.key === "k8s/eu1/Secret/shop/amphi-secrets-web");
    assert.ok(secret && secret.runtime === "k8s");
    assert.equal(secret.object["data"], "(secret)");
    const vms = doc.resources.filter((x) => x.runtime === "vm" && x.app === "billing");
    assert.ok(vms.length > 0);
    for (const vm of vms) {
      assert.ok(vm.runtime === "vm");
      assert.deepEqual(vm.instance.environment, { APP_VERSION: "2.3.0", DB_PASSWORD: "(secret)" });
    }

    writeFileSync(join(dir, "actual.json"), r.stdout);
    const plan = await amphi(["plan", "--repo", dir, "--env", "prod", "--actual", "actual.json"], dir);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
