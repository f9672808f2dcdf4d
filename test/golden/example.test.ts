// End-to-end golden files for the example config repo through the CLI: what `render` and `plan`
// print for it, byte for byte, and the same bytes on a second run. UPDATE_GOLDEN=1 refreshes them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { assertGolden } from "../support/golden.js";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import type { ActualState, K8sObject } from "../../src/model/index.js";

const EMPTY_PROD = join(import.meta.dirname, "../fixtures/actual/empty-prod.yaml");
const golden = (name: string): string => join(import.meta.dirname, "example", name);

test("render of every example environment matches its golden file and is byte-stable", async () => {
  for (const env of ["prod", "staging"]) {
    const first = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", env]);
    assert.equal(first.code, 0, first.stderr);
    const second = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", env]);
    assert.equal(second.stdout, first.stdout, "same input, same bytes");
    assertGolden(golden(`render-${env}.yaml`), first.stdout);
  }
});

test("plan of prod against an empty actual state, in all three formats", async () => {
  for (const [format, ext] of [["text", "txt"], ["json", "json"], ["markdown", "md"]] as const) {
    // Always an explicit actual state here: without one, plan reads live state from prod's hosts.
    const r = await amphi(["plan", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", EMPTY_PROD, "--format", format]);
    assert.equal(r.code, 2, r.stderr);
    assertGolden(golden(`plan-prod-empty.${ext}`), r.stdout);
  }
});

/** prod as rendered, then drifted: web runs an old image, billing is stopped on vm-2, catalog on vm-1 has
 * the previous version, an amphi-owned Deployment no longer in Git, and vm-3 unreachable. */
function driftedProd(actual: ActualState): ActualState {
  const resources = actual.resources.flatMap((r) => {
    if (r.key === "k8s/eu1/Deployment/shop/web" && r.runtime === "k8s") {
      const obj = structuredClone(r.object) as K8sObject & { spec: { template: { spec: { containers: { name: string; image: string }[] } } } };
      obj.spec.template.spec.containers.find((c) => c.name === "app")!.image = "registry.example.com/shop/web:4.1.0";
      return [{ ...r, object: obj }];
    }
    if (r.key === "vm/legacy/vm-2/billing") return [{ ...r, observed: { process: "stopped" as const } }];
    if (r.key === "vm/legacy/vm-1/catalog" && r.runtime === "vm") return [{ ...r, instance: { ...r.instance, version: "1.8.0" } }];
    return [r];
  });
  const web = actual.resources.find((r) => r.key === "k8s/eu1/Deployment/shop/web")!;
  if (web.runtime === "k8s") {
    const old = structuredClone(web.object);
    old.metadata = { ...old.metadata, name: "reports", labels: { ...old.metadata.labels, "amphi.dev/app": "reports" } };
    resources.push({ ...web, key: "k8s/eu1/Deployment/shop/reports", app: "reports", object: old });
  }
  return { ...actual, resources, unreachable: [{ runtime: "vm", target: "legacy/vm-3", reason: "ssh: connect ETIMEDOUT 10.20.0.13:22" }] };
}

test("plan of prod against a drifted actual state, in all three formats", async () => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-golden-${process.pid}-`));
  try {
    const asActual = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", "prod", "--as-actual"]);
    writeFileSync(join(dir, "actual.json"), JSON.stringify(driftedProd(JSON.parse(asActual.stdout) as ActualState)));
    for (const [format, ext] of [["text", "txt"], ["json", "json"], ["markdown", "md"]] as const) {
      const r = await amphi(["plan", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", "actual.json", "--format", format], dir);
      assert.equal(r.code, 3, "changes, and legacy/vm-3 could not be read: 3 wins over 2");
      assert.match(r.stderr, /could not see every target: \d+ resources? unknown on legacy\/vm-3/);
      assert.doesNotMatch(r.stdout, /dev-only-not-a-real-key/, "secret values never reach a plan");
      assertGolden(golden(`plan-prod-drift.${ext}`), r.stdout);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
