// Rendered manifests of random (valid) config repos are accepted by the real kubectl and the API server:
// `amphi render --out DIR` output goes through `kubectl apply --dry-run=server --server-side -f DIR/clusters/`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { loadModel } from "../../src/config/index.js";
import { render, renderFiles } from "../../src/render/index.js";
import { kubeTestTarget, type KubeTestTarget } from "../support/kubeconfig.js";
import { writeRandomRepo } from "../support/random-repo.js";
import { deleteNamespaces, kubectlText, moveToNamespace, objectsOf, skipWithoutKubectl, uniqueNamespace } from "./support.js";

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

describe("rendered manifests of random repos", { skip: skipWithoutKubectl() }, () => {
  let target: KubeTestTarget;
  let root: string;
  const namespaces = new Set<string>();
  before(async () => {
    target = await kubeTestTarget();
    root = mkdtempSync(join(tmpdir(), `amphi-kube-random-${process.pid}-`));
  });
  after(async () => {
    await deleteNamespaces(target, namespaces);
    await target?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test(`are accepted by kubectl apply --dry-run=server --server-side (seeds ${SEEDS[0]}–${SEEDS.at(-1)})`, async (t) => {
    let checked = 0;
    for (const seed of SEEDS) {
      const repo = join(root, `repo-${seed}`);
      writeRandomRepo(repo, seed);
      const loaded = await loadModel(new DirSource(repo));
      for (const env of loaded.environments) {
        if (!env.placements.some((p) => p.type === "cluster")) continue;
        const ns = uniqueNamespace(`s${seed}-${env.name}`);
        const model = moveToNamespace(loaded, env.name, ns);
        const desired = render(model, env.name);
        const out = join(root, `out-${seed}-${env.name}`);
        for (const file of renderFiles(desired)) {
          mkdirSync(dirname(join(out, file.path)), { recursive: true });
          writeFileSync(join(out, file.path), file.content);
        }
        await kubectlText(target, ["create", "namespace", ns]);
        namespaces.add(ns);
        const stdout = await kubectlText(target, ["apply", "--dry-run=server", "--server-side", "--field-manager=amphi", "-f", join(out, "clusters")]);
        const lines = stdout.trim().split("\n");
        assert.equal(lines.length, objectsOf(desired.resources).length, `seed ${seed} env ${env.name}: one line per object\n${stdout}`);
        for (const line of lines) assert.match(line, /^[a-z.]+\/[a-z0-9-]+ serverside-applied \(server dry run\)$/);
        checked += lines.length;
      }
    }
    t.diagnostic(`${checked} rendered objects accepted`);
    assert.ok(checked > 20, `only ${checked} objects checked`);
  });
});
