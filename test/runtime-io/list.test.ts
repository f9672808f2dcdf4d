// The I/O list: one entry per runtime, the runtimes on hosts as parts of the one host reader and handler,
// and what the composition root (cli/context.ts) builds by walking it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RUNTIME_ORDER, hooksOf } from "../../src/runtimes/index.js";
import { RUNTIME_IO, hostParts } from "../../src/runtime-io/index.js";
import { envContext, handlersFor, readersFor } from "../../src/cli/context.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { HostsReader } from "../../src/hosts/reader.js";
import { HostTaskHandler } from "../../src/hosts/handler.js";
import { ClusterReader, ClusterTaskHandler } from "../../src/adapters/kubectl/index.js";
import { RegistryReader, RegistryTaskHandler } from "../../src/adapters/consul/index.js";
import { MeshPolicyHandler, MeshPolicyReader } from "../../src/runtime-io/mesh.js";
import type { EnvironmentModel } from "../../src/model/index.js";
import { fixtureEnvironment } from "../support/model-fixture.js";

test("one entry per runtime", () => {
  assert.deepEqual(RUNTIME_IO.map((io) => io.runtime).sort(), [...RUNTIME_ORDER].sort());
});

test("the runtimes on hosts are parts run by the hosts handler, with a task for every kind their hooks list; the others are not on hosts", () => {
  for (const io of RUNTIME_IO) {
    const hooks = hooksOf(io.runtime);
    if ("host" in io) {
      assert.equal(io.host.runtime, io.runtime);
      assert.equal(hooks.target.place, "host", io.runtime);
      assert.equal(hooks.tasks.handler, "hosts", io.runtime);
      assert.deepEqual(Object.keys(io.host.tasks).sort(), [...hooks.tasks.kinds].sort(), io.runtime);
    } else {
      assert.notEqual(hooks.target.place, "host", io.runtime);
      assert.notEqual(hooks.tasks.handler, "hosts", io.runtime);
    }
  }
  assert.deepEqual(hostParts().map((p) => p.runtime), ["vm", "sidecar", "capture"]);
});

function withContext(env: EnvironmentModel, processEnv: NodeJS.ProcessEnv, fn: (ctx: ReturnType<typeof envContext>) => void): void {
  const dir = mkdtempSync(join(tmpdir(), `amphi-runtime-io-${process.pid}-`));
  try {
    fn(envContext({ out: () => {}, err: () => {}, cwd: dir, env: processEnv }, new DirSource(dir), env, {}));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("readersFor: one reader for the hosts, then the clusters', the registry's and the applied mesh policy's", () => {
  withContext(fixtureEnvironment(), {}, (ctx) => {
    const readers = readersFor(ctx, () => {});
    assert.deepEqual(readers.map((r) => r.constructor), [HostsReader, ClusterReader, RegistryReader, MeshPolicyReader]);
  });
});

test("handlersFor: hosts, clusters and the mesh policy always, the registry only with Consul", () => {
  withContext(fixtureEnvironment(), {}, (ctx) => {
    const h = handlersFor(ctx, { healthTimeoutMs: 1000 });
    assert.deepEqual(Object.keys(h).sort(), ["cluster", "hosts", "mesh", "registry"]);
    assert.ok(h.mesh instanceof MeshPolicyHandler);
    assert.ok(h.hosts instanceof HostTaskHandler && h.cluster instanceof ClusterTaskHandler && h.registry instanceof RegistryTaskHandler);
  });
  const noConsul = { ...fixtureEnvironment(), consul: { ...fixtureEnvironment().consul, enabled: false } };
  withContext(noConsul, {}, (ctx) => assert.deepEqual(Object.keys(handlersFor(ctx, { healthTimeoutMs: 1000 })).sort(), ["cluster", "hosts", "mesh"]));
});

test("handlersFor: an unset Consul token fails naming the variable, as the hosts' health reporters need it", () => {
  const env = { ...fixtureEnvironment(), consul: { ...fixtureEnvironment().consul, tokenEnv: "AMPHI_TEST_NO_SUCH_TOKEN" } };
  withContext(env, {}, (ctx) =>
    assert.throws(() => handlersFor(ctx, { healthTimeoutMs: 1000 }), /env prod: the health reporters need a Consul token, but AMPHI_TEST_NO_SUCH_TOKEN \(consul.tokenEnv\) is not set/),
  );
});
