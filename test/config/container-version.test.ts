// `container.version` (app) and `overrides.version` (cluster placement): the version pods run as the registry and
// traffic splits name it, instead of the image tag; located problems for bad values and a dropped version.
import { test } from "node:test";
import assert from "node:assert/strict";
import { placementVersion, type ClusterPlacement } from "../../src/model/index.js";
import { API_SPEC, PROD_ENV, loadChanged, problemsOf } from "./helpers.js";

const APP = "apps/api/spec.yaml";
const ENV = "environments/prod.yaml";
const DIGEST = `reg.example/api@sha256:${"c".repeat(64)}`;

/** The api app pinned by digest, named 1.0.0 by `container.version`. */
const PINNED = API_SPEC.replace("    image: reg.example/api:1.0.0\n", `    image: ${DIGEST}\n    version: 1.0.0\n`);

test("the pinned app is what this file means it to be", () => assert.ok(PINNED.includes(DIGEST) && PINNED !== API_SPEC));

async function podVersions(files: Record<string, string>): Promise<string[]> {
  const { model, error } = await loadChanged(files);
  assert.equal(error, null, error?.message);
  const env = model!.environments[0]!;
  return env.placements.filter((p): p is ClusterPlacement => p.type === "cluster").map(placementVersion);
}

test("an app's container.version is the version of its pods, not the image's digest", async () => {
  assert.deepEqual(await podVersions({ [APP]: PINNED }), ["1.0.0"]);
});

test("a placement's overrides.version wins over the app's; a number keeps its written form", async () => {
  const env = PROD_ENV.replace("    cluster: eu1\n", "    cluster: eu1\n    overrides: {version: 1.10}\n");
  assert.deepEqual(await podVersions({ [APP]: PINNED, [ENV]: env }), ["1.10"]);
  assert.deepEqual(await podVersions({ [ENV]: env }), ["1.10"], "an override names the version of an app without one too");
});

test("a split over versions named by container.version loads; the digest's tag is no version then", async () => {
  const gray = PROD_ENV.replace("  - app: db", `  - app: api\n    cluster: eu2\n    overrides: {image: ${DIGEST.replace("c", "d")}, version: 1.1.0}\n  - app: db`).replace(
    "  hostGroups:",
    "  - name: eu2\n    context: eu2\n  hostGroups:",
  );
  const ok = `${gray}  traffic:\n    api:\n      split: {1.0.0: 90, 1.1.0: 10}\n`;
  const { error } = await loadChanged({ [APP]: PINNED, [ENV]: ok });
  assert.equal(error, null, error?.message);
  const bad = `${gray}  traffic:\n    api:\n      split: {1.0.0: 90, "sha256:${"d".repeat(64)}": 10}\n`;
  const problems = await problemsOf({ [APP]: PINNED, [ENV]: bad });
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(problems[0]!, /version "sha256:d+" of service "api" runs on no placement of app "api" in this environment; placements of app "api" run 1\.0\.0 \(\/spec\/placements\/0, \/spec\/placements\/1\), 1\.1\.0 \(\/spec\/placements\/2\)$/);
});

test("a placement that runs another image without a version drops the app's, with a warning at the image", async () => {
  const env = PROD_ENV.replace("    cluster: eu1\n", "    cluster: eu1\n    overrides: {image: reg.example/api:2.0.0}\n");
  assert.deepEqual(await podVersions({ [APP]: PINNED, [ENV]: env }), ["2.0.0"]);
  assert.deepEqual(await problemsOf({ [APP]: PINNED, [ENV]: env }), [
    `${ENV}:21:24 /spec/placements/0/overrides/image: warning: overrides the image but not the version of app "api" (container.version 1.0.0); set overrides.version too, or the image tag (2.0.0) is the version the registry and traffic splits see`,
  ]);
});

test("unsafe versions are located errors, in the app and in an override", async () => {
  const app = PINNED.replace(`    version: 1.0.0\n  package`, `    version: ../x\n  package`);
  const env = PROD_ENV.replace("    cluster: eu1\n", "    cluster: eu1\n    overrides: {version: -1}\n");
  const problems = await problemsOf({ [APP]: app, [ENV]: env });
  assert.deepEqual(problems, [
    `${APP}:13:14 /spec/container/version: "../x" is not a safe version (letters, digits, ".", "_", "+" and "-", starting with a letter or digit, no "..", at most 128 characters); it names a release directory on the hosts`,
    `${ENV}:21:26 /spec/placements/0/overrides/version: "-1" is not a safe version (letters, digits, ".", "_", "+" and "-", starting with a letter or digit, no "..", at most 128 characters); it names a release directory on the hosts`,
  ]);
});
