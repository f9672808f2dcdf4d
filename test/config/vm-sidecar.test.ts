// The VM sidecar in the environment file (issue 12): Envoy from `mesh.sidecar.package` or `.binary`, and with
// capture on host groups both a VM sidecar and `mesh.controlPlane` are required; each problem names the file and
// the field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PROD_ENV, problemsOf, loadChanged } from "./helpers.js";

const ENV = "environments/prod.yaml";
const BINARY = "sidecar: {image: envoy:1, binary: /usr/local/bin/envoy}";
const CONTROL = `controlPlane: {address: "amphi-xds.internal:18000"}`;

test("the base environment (capture on, apps on a host group, binary and control plane) loads; the model has the binary", async () => {
  const { model, error } = await loadChanged({});
  assert.equal(error, null);
  const env = model!.environments[0]!;
  assert.equal(env.mesh.sidecar.binary, "/usr/local/bin/envoy");
  assert.equal(env.mesh.sidecar.package, null);
  assert.deepEqual(env.mesh.controlPlane, { host: "amphi-xds.internal", port: 18000 });
});

test("capture on host groups without a VM sidecar: an error at spec.mesh.sidecar", async () => {
  const problems = await problemsOf({ [ENV]: PROD_ENV.replace(BINARY, "sidecar: {image: envoy:1}") });
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(problems[0]!, /^environments\/prod\.yaml:6:\d+ \/spec\/mesh\/sidecar: capture is on and apps are placed on host groups \(\/spec\/placements\/1\), but spec\.mesh\.sidecar has no VM sidecar/);
  assert.match(problems[0]!, /set spec\.mesh\.sidecar\.binary .* or spec\.mesh\.sidecar\.package, or set spec\.mesh\.capture: false/);
});

test("capture on host groups without a control plane: an error naming spec.mesh.controlPlane", async () => {
  // (with apps on clusters too, the pods' check says it once: see bad-rules)
  const noPods = PROD_ENV.replace(CONTROL, "domain: mesh").replace("  - app: api\n    cluster: eu1\n", "");
  assert.ok(!noPods.includes("cluster: eu1\n  - app"), noPods);
  const problems = await problemsOf({ [ENV]: noPods });
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(problems[0]!, /^environments\/prod\.yaml:\d+:\d+ \/spec\/mesh: .*spec\.mesh\.controlPlane is not set/);
});

test("no VM sidecar needed with capture off, or with no app on a host group", async () => {
  const off = PROD_ENV.replace(BINARY, "sidecar: {image: envoy:1}").replace(CONTROL, "capture: false");
  assert.deepEqual(await problemsOf({ [ENV]: off }), []);
  const noHosts = PROD_ENV.replace(BINARY, "sidecar: {image: envoy:1}").replace("  - app: api\n    hostGroup: vms\n  - app: db\n    hostGroup: vms\n", "");
  assert.ok(!noHosts.includes("hostGroup: vms"), noHosts);
  const problems = await problemsOf({ [ENV]: noHosts });
  assert.ok(!problems.some((p) => p.includes("/spec/mesh/sidecar")), problems.join("\n"));
});

test("package and binary together, a package start that is no path inside it, a control-plane port above 65535", async () => {
  const pkg = `package: {version: "1.31.2", path: packages/db.tar.gz, sha256: "${"c".repeat(64)}", start: ../envoy}`;
  const problems = await problemsOf({ [ENV]: PROD_ENV.replace(BINARY, `sidecar: {image: envoy:1, binary: /usr/local/bin/envoy, ${pkg}}`).replace("amphi-xds.internal:18000", "amphi-xds.internal:99999") });
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.ok(problems.some((p) => /\/spec\/mesh\/controlPlane\/address: port 99999 of "amphi-xds.internal:99999" is not a port/.test(p)), problems.join("\n"));
  assert.ok(problems.some((p) => /\/spec\/mesh\/sidecar\/binary: give the VM sidecar as package or binary, not both/.test(p)), problems.join("\n"));
  assert.ok(problems.some((p) => /\/spec\/mesh\/sidecar\/package\/start: "\.\.\/envoy" is not a path inside the package/.test(p)), problems.join("\n"));
});

test("a relative binary path is refused by the schema", async () => {
  const problems = await problemsOf({ [ENV]: PROD_ENV.replace("binary: /usr/local/bin/envoy", "binary: envoy") });
  assert.ok(problems.some((p) => /\/spec\/mesh\/sidecar\/binary: "envoy" must start with "\/"/.test(p)), problems.join("\n"));
});
