// Secret values never reach a change or a formatted plan, but a change of a secret is still reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { diff, REDACTED } from "../../src/diff/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { formatPlanJson, formatPlanMarkdown, formatPlanText } from "../../src/plan/format.js";
import type { ActualResource, DiffResult, FieldChange, K8sObject, Resource } from "../../src/model/index.js";
import {
  actualState,
  clone,
  deployment,
  desiredState,
  hostInstance,
  live,
  OLD_SECRET_VALUE,
  SECRET_VALUE,
} from "../support/resources-fixture.js";

function fields(desired: Resource[], actual: ActualResource[]): { result: DiffResult; fields: FieldChange[] } {
  const result = diff(desiredState(desired), actualState(actual), { ignore: [] });
  return { result, fields: result.changes.flatMap((c) => (c.op === "update" ? c.fields : [])) };
}

/** Every place a secret could leak: the field changes and the three plan formats. */
function assertNoSecret(result: DiffResult): void {
  const plan = buildPlan(result, {}, null);
  const outputs = {
    fields: JSON.stringify(plan.steps.map((s) => s.fields)),
    text: formatPlanText(plan),
    json: formatPlanJson(plan),
    markdown: formatPlanMarkdown(plan),
  };
  for (const [name, out] of Object.entries(outputs)) {
    for (const secret of [SECRET_VALUE, OLD_SECRET_VALUE]) assert.ok(!out.includes(secret), `${name} output contains a secret value:\n${out}`);
  }
}

const web = (value: string, extra: { name: string; value: string }[] = []) =>
  deployment({ app: "web", env: [{ name: "SESSION_KEY", value }, ...extra], secretEnv: ["SESSION_KEY"] });

test("a changed secret env value of a Deployment is reported, masked on both sides", () => {
  const { result, fields: fs } = fields([web(SECRET_VALUE)], [live(web(OLD_SECRET_VALUE))]);
  assert.deepEqual(fs, [{ path: "spec.template.spec.containers[name=app].env[name=SESSION_KEY].value", from: REDACTED, to: REDACTED }]);
  assert.match(formatPlanText(buildPlan(result, {}, null)), /env\[name=SESSION_KEY\]\.value \(secret changed\)/);
  assertNoSecret(result);
});

test("a secret env var added, or removed together with its annotation, is masked (names come from both sides)", () => {
  const added = fields([web(SECRET_VALUE)], [live(deployment({ app: "web" }))]);
  assert.deepEqual(added.fields.find((f) => f.path.endsWith("env[name=SESSION_KEY]"))?.to, { name: "SESSION_KEY", value: REDACTED });
  assertNoSecret(added.result);
  const removed = fields([deployment({ app: "web" })], [live(web(SECRET_VALUE))]);
  assert.deepEqual(removed.fields.find((f) => f.path.endsWith("env[name=SESSION_KEY]"))?.from, { name: "SESSION_KEY", value: REDACTED });
  assertNoSecret(removed.result);
});

test("a whole container added with secret env carries the secret masked; other env values stay readable", () => {
  const desired = web(SECRET_VALUE, [{ name: "LOG_LEVEL", value: "info" }]);
  const actual = live(clone(desired));
  (actual.object as any).spec.template.spec.containers.shift();
  const { result, fields: fs } = fields([desired], [actual]);
  const container = fs.find((f) => f.path === "spec.template.spec.containers[name=app]")?.to as any;
  assert.deepEqual(container.env, [{ name: "SESSION_KEY", value: REDACTED }, { name: "LOG_LEVEL", value: "info" }]);
  assertNoSecret(result);
});

test("a host instance's secret environment is masked, with secretEnv known from either side", () => {
  const desired = hostInstance({ app: "billing", environment: { TOKEN: SECRET_VALUE, MODE: "a" }, secretEnv: ["TOKEN"] });
  const actual = hostInstance({ app: "billing", environment: { TOKEN: OLD_SECRET_VALUE, MODE: "b" }, secretEnv: ["TOKEN"] });
  const { result, fields: fs } = fields([desired], [actual]);
  assert.deepEqual(fs, [
    { path: "environment.TOKEN", from: REDACTED, to: REDACTED },
    { path: "environment.MODE", from: "b", to: "a" },
  ]);
  assertNoSecret(result);
  const noLongerSecret = hostInstance({ app: "billing", environment: {}, secretEnv: [] });
  const gone = fields([noLongerSecret], [actual]);
  assert.deepEqual(gone.fields.find((f) => f.path === "environment.TOKEN"), { path: "environment.TOKEN", from: REDACTED, to: undefined });
  assertNoSecret(gone.result);
});

// Issue 13: a Secret's data is not compared (the desired side holds tokens, the live side is read masked); its
// keyed digest annotation is, and shows only as changed.
test("a Kubernetes Secret is compared by its digest annotation, never by its data, and shows only as changed", () => {
  const annotations = { "amphi.dev/secret-digest": "hmac-sha256:" + "1".repeat(32) };
  const object: K8sObject = { apiVersion: "v1", kind: "Secret", metadata: { name: "web", namespace: "shop", annotations }, data: { key: Buffer.from(SECRET_VALUE).toString("base64") } };
  const desired: Resource = { runtime: "k8s", key: "k8s/eu1/Secret/shop/web", app: "web", target: "eu1", object };
  const actual = clone(desired);
  (actual as any).object.data.key = SECRET_VALUE;
  assert.deepEqual(fields([desired], [actual]).fields, [], "data alone is not compared");
  (actual as any).object.metadata.annotations["amphi.dev/secret-digest"] = "hmac-sha256:" + "2".repeat(32);
  const { result, fields: fs } = fields([desired], [actual]);
  assert.deepEqual(fs, [{ path: 'metadata.annotations["amphi.dev/secret-digest"]', from: REDACTED, to: REDACTED }]);
  assertNoSecret(result);
});
