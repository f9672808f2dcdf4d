// Property: for any valid repo, rendering the desired state and feeding it back as the actual state
// (through the --actual file format) plans no changes; and changing one desired field plans exactly one update.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel } from "../../src/config/index.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { render } from "../../src/render/index.js";
import { diff } from "../../src/diff/index.js";
import { parseActualState } from "../../src/diff/actual-file.js";
import { buildPlan } from "../../src/plan/index.js";
import type { ActualState, Model } from "../../src/model/index.js";
import { writeRandomRepo } from "../support/random-repo.js";

const SEEDS = Array.from({ length: 40 }, (_, i) => 1000 + i * 7919);

function planFor(model: Model, env: string, actual: ActualState) {
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  const ignore = model.environments.find((e) => e.name === env)!.ignoreDifferences;
  return buildPlan(diff(render(model, env), actual, { ignore }), deps, null);
}

test("render → actual (via the --actual file format) → plan has no changes, for 40 random repos", async () => {
  for (const seed of SEEDS) {
    const dir = mkdtempSync(join(tmpdir(), `amphi-prop-${process.pid}-`));
    try {
      writeRandomRepo(dir, seed);
      const model = await loadModel(new DirSource(dir));
      for (const env of model.environments) {
        const desired = render(model, env.name);
        const file = JSON.stringify({ env: env.name, observedAt: null, resources: desired.resources, unreachable: [] });
        const plan = planFor(model, env.name, parseActualState(file, "actual.json", env.name));
        const changed = plan.steps.map((s) => `${s.op} ${s.key}`);
        assert.deepEqual(changed, [], `seed ${seed} env ${env.name}: expected no changes`);
        assert.equal(plan.summary.unchanged, desired.resources.length, `seed ${seed}: every resource unchanged`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test("one changed image in the actual state plans exactly one update of that field", async () => {
  for (const seed of SEEDS.slice(0, 10)) {
    const dir = mkdtempSync(join(tmpdir(), `amphi-prop-${process.pid}-`));
    try {
      writeRandomRepo(dir, seed);
      const model = await loadModel(new DirSource(dir));
      const env = model.environments[0]!.name;
      const actual: ActualState = JSON.parse(JSON.stringify({ env, observedAt: null, resources: render(model, env).resources, unreachable: [] }));
      const dep = actual.resources.find((r) => r.runtime === "k8s" && r.object.kind === "Deployment");
      if (!dep || dep.runtime !== "k8s") continue;
      const spec = dep.object.spec as { template: { spec: { containers: { name: string; image: string }[] } } };
      spec.template.spec.containers.find((c) => c.name === "app")!.image = "reg.example/old:0";
      const plan = planFor(model, env, actual);
      assert.equal(plan.steps.length, 1, `seed ${seed}`);
      assert.equal(plan.steps[0]!.op, "update");
      assert.deepEqual(plan.steps[0]!.fields.map((f) => f.path), ["spec.template.spec.containers[name=app].image"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
