// Registry entries and the config repo → MeshSnapshot: declared services of placed apps, instances by port,
// version from tags, locality from cluster meta or the host's group, policy by service.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { declaredServices, hostGroupsOf, instanceVersion, meshSnapshot, type RegisteredInstance } from "../../src/mesh/index.js";
import { findEnvironment } from "../../src/model/index.js";
import { loadModel } from "../../src/config/index.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { policy } from "./snapshots.js";

function entry(id: string, port: number, more: Partial<RegisteredInstance> = {}): RegisteredInstance {
  return { id, address: "10.0.0.1", port, tags: ["amphi", "version:1.8.1"], meta: { "amphi-host": "localhost" }, passing: true, ...more };
}

describe("meshSnapshot from the registry", () => {
  it("declares the services of the apps placed in the environment, with ports and protocols", async () => {
    const model = await loadModel(new DirSource(EXAMPLE_REPO));
    const env = findEnvironment(model, "staging");
    const services = declaredServices(model, env);
    assert.deepEqual(services.find((s) => s.name === "catalog"), { name: "catalog", app: "catalog", ports: [{ port: 8080, protocol: "http" }, { port: 9090, protocol: "grpc" }] });
    assert.deepEqual(hostGroupsOf(env).get("localhost"), "local");
  });

  it("puts entries on their port (or a one-port service's port), with version, locality and policy", () => {
    const snap = meshSnapshot({
      env: "staging",
      settings: { domain: "mesh", outboundPort: 15001, inboundPort: 15006 },
      services: [
        { name: "catalog", app: "catalog", ports: [{ port: 8080, protocol: "http" }, { port: 9090, protocol: "grpc" }] },
        { name: "echo", app: "echo", ports: [{ port: 50051, protocol: "grpc" }] },
      ],
      policies: [policy("echo", { timeoutMs: 100 }), policy("unknown", { timeoutMs: 5 })],
      instances: new Map([
        ["catalog", [entry("c-http", 8080), entry("c-grpc", 9090, { meta: { "amphi-cluster": "dev" }, passing: false }), entry("c-other", 7000)]],
        ["echo", [entry("e-1", 41234, { tags: [], meta: { "amphi-version": "2.0.0" } })]],
      ]),
      hostGroups: new Map([["localhost", "local"]]),
    });
    const [catalog, echo] = snap.services;
    assert.deepEqual(catalog!.ports.map((p) => p.instances.map((i) => [i.id, i.version, i.locality, i.passing])), [
      [["c-http", "1.8.1", "local", true]],
      [["c-grpc", "1.8.1", "dev", false]],
    ]);
    assert.deepEqual(echo!.ports[0]!.instances.map((i) => [i.id, i.port, i.version, i.locality]), [["e-1", 41234, "2.0.0", ""]]);
    assert.equal(echo!.policy?.timeoutMs, 100);
    assert.equal(catalog!.policy, null);
    assert.equal(instanceVersion({ tags: ["version:3"], meta: { "amphi-version": "4" } }), "3");
  });
});
