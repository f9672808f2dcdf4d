// The VM sidecar runtime (issue 12): one Envoy per host with app instances, its bootstrap from
// src/mesh/bootstrap.ts with a node id naming the host; compared by version and bootstrap digest; planned before
// capture rules go in, and removed after they are gone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "js-yaml";
import type { ActualResource, ActualState, Model, Resource } from "../../src/model/index.js";
import { hostSidecarNodeId, parseHostSidecarNode, proxyApps } from "../../src/model/index.js";
import { diff } from "../../src/diff/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { render } from "../../src/render/index.js";
import { envoyBootstrapYaml } from "../../src/mesh/bootstrap.js";
import { sidecar } from "../../src/runtimes/sidecar/index.js";
import { hostSidecar } from "../../src/runtimes/sidecar/render.js";
import { modelFixture, withEnvironment } from "../support/model-fixture.js";

const withSidecar = (model: Model, mesh: Partial<Model["environments"][number]["mesh"]> = {}): Model =>
  withEnvironment(model, (e) => ({
    ...e,
    mesh: { ...e.mesh, sidecar: { ...e.mesh.sidecar, binary: "/usr/local/bin/envoy" }, controlPlane: { host: "10.0.0.5", port: 18000 }, ...mesh },
  }));

const sidecarsOf = (resources: readonly Resource[]) => resources.filter((r): r is Extract<Resource, { runtime: "sidecar" }> => r.runtime === "sidecar");

test("one sidecar per host with instances, its node id naming the host, its bootstrap the shared one", () => {
  const desired = render(withSidecar(modelFixture()), "prod");
  const sidecars = sidecarsOf(desired.resources);
  assert.deepEqual(sidecars.map((s) => [s.key, s.target, s.app, s.sidecar.nodeId]), [
    ["sidecar/legacy/vm-1", "legacy/vm-1", null, "host~prod~legacy~vm-1"],
    ["sidecar/legacy/vm-2", "legacy/vm-2", null, "host~prod~legacy~vm-2"],
  ]);
  const s = sidecars[0]!.sidecar;
  assert.deepEqual(s.source, { binary: "/usr/local/bin/envoy" });
  assert.equal(s.user, 1337);
  assert.equal(
    s.bootstrap,
    envoyBootstrapYaml({ nodeId: "host~prod~legacy~vm-1", nodeCluster: "legacy", metadata: { runtime: "vm", env: "prod", hostGroup: "legacy", host: "vm-1" }, controlPlane: { host: "10.0.0.5", port: 18000 }, adminPort: 15000 }),
  );
  const doc = load(s.bootstrap) as { admin: { address: { socket_address: { address: string } } } };
  assert.equal(doc.admin.address.socket_address.address, "127.0.0.1", "admin on loopback only");
  assert.match(s.bootstrapDigest, /^[0-9a-f]{16}$/);
  // capture rules name the sidecar they wait for
  const capture = desired.resources.find((r) => r.runtime === "capture");
  assert.deepEqual(capture?.runtime === "capture" && capture.capture.proxy, { adminPort: 15000, inboundPort: 15006, outboundPort: 15001 });
});

test("no sidecar without a control plane or without a VM sidecar (and capture rules then wait for none)", () => {
  assert.deepEqual(sidecarsOf(render(withSidecar(modelFixture(), { controlPlane: null }), "prod").resources), []);
  const plain = render(modelFixture(), "prod");
  assert.deepEqual(sidecarsOf(plain.resources), []);
  const capture = plain.resources.find((r) => r.runtime === "capture");
  assert.equal(capture?.runtime === "capture" && capture.capture.proxy, undefined);
});

test("a package sidecar: version, sha256 and the executable's path inside the archive", () => {
  const pkg = { version: "1.31.2", source: { path: "packages/envoy-1.31.2.tar.gz" }, sha256: "A".repeat(64), start: "bin/envoy", user: null, env: [] };
  const model = withEnvironment(withSidecar(modelFixture()), (e) => ({ ...e, mesh: { ...e.mesh, sidecar: { ...e.mesh.sidecar, binary: null, package: pkg } } }));
  const [s] = sidecarsOf(render(model, "prod").resources);
  assert.deepEqual(s!.sidecar.source, { package: { path: "packages/envoy-1.31.2.tar.gz" }, version: "1.31.2", sha256: "a".repeat(64), exe: "bin/envoy" });
});

test("compare: a new control plane is a bootstrap digest change; a sidecar that does not answer is a proxy change", () => {
  const env = withSidecar(modelFixture()).environments.find((e) => e.name === "prod")!;
  const inst = { hostGroup: "legacy", host: "vm-1", address: "10.20.0.11", baseDir: "/opt/amphi" };
  const want = hostSidecar(env, { binary: "/usr/local/bin/envoy" }, inst);
  const was = hostSidecar({ ...env, mesh: { ...env.mesh, controlPlane: { host: "10.0.0.6", port: 18000 } } }, { binary: "/usr/local/bin/envoy" }, inst);
  const base = { runtime: "sidecar" as const, key: "sidecar/legacy/vm-1", app: null, target: "legacy/vm-1" };
  const fields = sidecar.compare({ ...base, sidecar: want }, { ...base, sidecar: was, observed: { proxy: "ready" } }, []);
  assert.deepEqual(fields.map((f) => f.path), ["bootstrapDigest"]);
  assert.deepEqual(sidecar.compare({ ...base, sidecar: want }, { ...base, sidecar: want, observed: { proxy: "ready" } }, []), []);
  assert.deepEqual(sidecar.compare({ ...base, sidecar: want }, { ...base, sidecar: want, observed: { proxy: "down" } }, []), [{ path: "proxy", from: "down", to: "ready" }]);
  assert.equal(sidecar.report.health({ actual: { ...base, sidecar: want, observed: { proxy: "down" } } }, { now: new Date(), progressTimeoutMs: 1 })?.health, "degraded");
});

test("plan: the sidecar goes in before the capture rules of its host; on removal the rules go first", () => {
  const desired = render(withSidecar(modelFixture()), "prod");
  const empty: ActualState = { env: "prod", observedAt: "2026-01-01T00:00:00Z", resources: [], unreachable: [] };
  const up = buildPlan(diff(desired, empty, { ignore: [] }), {}, null).steps.filter((s) => s.target === "legacy/vm-1" && (s.runtime === "sidecar" || s.runtime === "capture"));
  assert.deepEqual(up.map((s) => `${s.runtime} ${s.op}`), ["sidecar create", "capture create"]);
  assert.equal(up[0]!.wave, up[1]!.wave, "one wave: the host's app steps'");
  const none = { ...desired, resources: [] };
  const actual: ActualState = { ...empty, resources: desired.resources.filter((r) => r.target === "legacy/vm-1" && r.runtime !== "consul" && r.runtime !== "mesh") as ActualResource[] };
  const down = buildPlan(diff(none, actual, { ignore: [] }), {}, null).steps.map((s) => `${s.runtime} ${s.op}`);
  assert.ok(down.indexOf("capture delete") < down.indexOf("sidecar delete"), down.join(", "));
  assert.ok(down.indexOf("sidecar delete") < down.indexOf("vm delete"), down.join(", "));
});

test("host sidecar node ids: read back, and attributed to every app on the host", () => {
  const id = hostSidecarNodeId({ env: "prod", hostGroup: "legacy", host: "vm-1" });
  assert.equal(id, "host~prod~legacy~vm-1");
  assert.deepEqual(parseHostSidecarNode(id), { env: "prod", hostGroup: "legacy", host: "vm-1" });
  assert.equal(parseHostSidecarNode("sidecar~prod~billing~x"), null);
  const apps = (g: string, h: string) => (g === "legacy" && h === "vm-1" ? ["billing", "catalog"] : []);
  assert.deepEqual(proxyApps(id, "prod", apps), ["billing", "catalog"]);
  assert.deepEqual(proxyApps(id, "staging", apps), []);
  assert.deepEqual(proxyApps("sidecar~prod~billing~pod-1", "prod", apps), ["billing"]);
});
