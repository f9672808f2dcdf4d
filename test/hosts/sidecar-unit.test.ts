// The VM sidecar's host side without a host: the supervised "app" it is installed as reads back to the same
// sidecar, and the package generated for a binary on the host is a real tar.gz.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binaryPackage, sidecarFromInstance, sidecarInstance } from "../../src/hosts/sidecar.js";
import { hostSidecar } from "../../src/runtimes/sidecar/render.js";
import { modelFixture } from "../support/model-fixture.js";

const env = { ...modelFixture().environments.find((e) => e.name === "prod")!, };
const prod = { ...env, mesh: { ...env.mesh, controlPlane: { host: "10.0.0.5", port: 18000 } } };
const at = { hostGroup: "legacy", host: "vm-1", address: "10.20.0.11", baseDir: "/opt/amphi" };

test("a sidecar installed as the supervised app `envoy` reads back as the same sidecar (binary and package)", () => {
  const bin = hostSidecar(prod, { binary: "/usr/local/bin/envoy" }, at);
  const i = sidecarInstance("prod", bin, "b".repeat(64));
  assert.equal(i.app, "envoy");
  assert.equal(i.baseDir, "/opt/amphi/sidecar");
  assert.deepEqual(i.health, { path: "/ready", port: 15000 });
  assert.deepEqual(i.ports.map((p) => p.port), [15000, 15006, 15001]);
  assert.match(i.start, /exec setpriv --reuid="\$uid"/);
  assert.deepEqual(sidecarFromInstance(i, "/opt/amphi"), bin);
  const pkg = hostSidecar(prod, { package: { url: "https://example.com/envoy.tar.gz" }, version: "1.31.2", sha256: "c".repeat(64), exe: "bin/envoy" }, at);
  const j = sidecarInstance("prod", pkg, "");
  assert.equal(j.sha256, "c".repeat(64));
  assert.equal(j.environment["AMPHI_ENVOY_BIN"], "bin/envoy");
  assert.deepEqual(sidecarFromInstance(j, "/opt/amphi"), pkg);
});

test("the package made for a binary on the host is a tar.gz tar reads, with its sha256", () => {
  const p = binaryPackage();
  const bytes = readFileSync(p.file);
  assert.equal(createHash("sha256").update(bytes).digest("hex"), p.sha256);
  assert.equal(execFileSync("tar", ["-tzf", p.file], { encoding: "utf8" }), "README\n");
  assert.match(execFileSync("tar", ["-xOzf", p.file, "README"], { encoding: "utf8" }), /mesh\.sidecar\.binary/);
  assert.equal(binaryPackage(), p, "made once per process");
  // One content-addressed file shared by every process, not a temp directory per process left behind.
  assert.equal(p.file, join(tmpdir(), `amphi-sidecar-binary-${p.sha256.slice(0, 16)}.tar.gz`));
});
