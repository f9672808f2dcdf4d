// Host instances and Consul registrations rendered for host-group placements.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HostInstance, Model, Registration } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import { modelFixture, withApp } from "../support/model-fixture.js";

function instance(model: Model, key: string): HostInstance {
  const r = render(model, "prod").resources.find((x) => x.key === key);
  assert.ok(r && r.runtime === "vm", `no vm resource ${key}`);
  return r.instance;
}

function registrations(model: Model): Registration[] {
  return render(model, "prod").resources.flatMap((r) => (r.runtime === "consul" ? [r.registration] : []));
}

describe("render host instances", () => {
  const model = modelFixture();
  const billing = model.apps.find((a) => a.name === "billing")!;

  it("fills an instance from the placement's package, host and app", () => {
    assert.deepEqual(instance(model, "vm/legacy/vm-1/billing"), {
      app: "billing",
      env: "prod",
      hostGroup: "legacy",
      host: "vm-1",
      address: "10.20.0.11",
      baseDir: "/opt/amphi",
      version: "2.3.0",
      package: { path: "packages/billing-2.3.0.tar.gz" },
      sha256: billing.package!.sha256,
      start: "node server.mjs 9100 billing",
      user: null,
      environment: { APP_VERSION: "2.3.0", DB_PASSWORD: "hunter2" },
      secretEnv: ["DB_PASSWORD"],
      ports: [{ name: "http-9100", port: 9100, protocol: "http" }],
      health: { path: "/health", port: 9100 },
      services: ["billing"],
      specHash: billing.specHash,
      registrations: ["billing-vm-1-9100"],
    });
  });

  it("lists all services' ports sorted by port, and the first health check", () => {
    const changed = withApp(model, "catalog", (app) => ({
      ...app,
      services: [
        { name: "catalog-admin", ports: [{ name: "admin", targetPort: 9500, protocol: "tcp" }], healthCheck: null },
        ...app.services,
      ],
    }));
    const i = instance(changed, "vm/legacy/vm-2/catalog");
    assert.deepEqual(i.ports.map((p) => p.port), [8080, 9090, 9500]);
    assert.deepEqual(i.health, { path: "/healthz", port: 8080 });
    assert.deepEqual(i.services, ["catalog-admin", "catalog"]);
    assert.deepEqual(i.registrations, ["catalog-vm-2-9500", "catalog-vm-2-8080", "catalog-vm-2-9090"]);
  });

  it("keys instances vm/<group>/<host>/<app> with <group>/<host> as target", () => {
    const vm = render(model, "prod").resources.filter((r) => r.runtime === "vm");
    assert.deepEqual(
      vm.map((r) => `${r.key} ${r.target}`),
      [
        "vm/legacy/vm-1/billing legacy/vm-1",
        "vm/legacy/vm-1/catalog legacy/vm-1",
        "vm/legacy/vm-2/billing legacy/vm-2",
        "vm/legacy/vm-2/catalog legacy/vm-2",
      ],
    );
  });
});

describe("render Consul registrations", () => {
  const model = modelFixture();

  it("registers every port of every service of each VM instance as <app>-<host>-<port>", () => {
    const resources = render(model, "prod").resources.filter((r) => r.runtime === "consul");
    assert.deepEqual(
      resources.map((r) => `${r.key} ${r.target}`),
      [
        "consul/billing/billing-vm-1-9100 legacy/vm-1",
        "consul/billing/billing-vm-2-9100 legacy/vm-2",
        "consul/catalog/catalog-vm-1-8080 legacy/vm-1",
        "consul/catalog/catalog-vm-1-9090 legacy/vm-1",
        "consul/catalog/catalog-vm-2-8080 legacy/vm-2",
        "consul/catalog/catalog-vm-2-9090 legacy/vm-2",
      ],
    );
    // Registration IDs and the instances' lists agree.
    const fromInstances = render(model, "prod").resources.flatMap((r) => (r.runtime === "vm" ? r.instance.registrations : []));
    assert.deepEqual([...fromInstances].sort(), resources.map((r) => (r.runtime === "consul" ? r.registration.id : "")).sort());
  });

  it("tags, annotates and checks a registration", () => {
    const catalog = model.apps.find((a) => a.name === "catalog")!;
    const r = registrations(model).find((x) => x.id === "catalog-vm-2-9090")!;
    assert.deepEqual(r, {
      id: "catalog-vm-2-9090",
      service: "catalog",
      app: "catalog",
      env: "prod",
      host: "vm-2",
      address: "10.20.0.12",
      port: 9090,
      tags: ["amphi", "env:prod", "app:catalog", "version:1.8.1"],
      meta: {
        "amphi-app": "catalog",
        "amphi-env": "prod",
        "amphi-host": "vm-2",
        "amphi-version": "1.8.1",
        "amphi-spec-hash": catalog.specHash,
      },
      check: {
        checkId: "service:catalog-vm-2-9090",
        ttl: "15s",
        deregisterCriticalServiceAfter: "5m",
        notes: "TTL kept passing by amphi's health reporter while GET http://10.20.0.12:8080/healthz succeeds",
      },
    });
  });

  it("registers nothing for pods: their registry entries come from the mesh's Kubernetes integration", () => {
    assert.ok(registrations(model).every((r) => r.app !== "user" && r.app !== "web"));
  });
});
