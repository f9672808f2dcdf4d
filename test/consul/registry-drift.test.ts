// Registry drift (pure): missing, unexpected, critical/warning, address and port mismatches, other
// environments and untagged services ignored, deterministic order and one-line format.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatRegistryDrift, registryDrift, registryDriftOf } from "../../src/health/index.js";
import type { ActualState } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import { modelFixture } from "../support/model-fixture.js";
import { registrationFixture } from "./helpers.js";

const r = (service: string, host: string, over: Parameters<typeof registrationFixture>[0] | object = {}) =>
  registrationFixture({ service, host, address: `10.0.0.${host.slice(-1)}`, ...over });

describe("registry drift", () => {
  it("is empty when every desired registration is there and passing", () => {
    const regs = [r("billing", "vm-1"), r("billing", "vm-2")];
    assert.deepEqual(registryDrift("staging", regs, regs.map((registration) => ({ registration, check: "passing" }))), []);
  });

  it("reports missing, unexpected, critical, warning and wrong port/address, sorted by service, id, kind", () => {
    const desired = [r("billing", "vm-1"), r("billing", "vm-2"), r("billing", "vm-3"), r("user", "vm-1", { port: 8091 }), r("user", "vm-2", { port: 8091 })];
    const observed = [
      { registration: { ...r("billing", "vm-1"), port: 9200 }, check: "critical" as const },
      { registration: { ...r("billing", "vm-2"), address: "10.9.9.9" }, check: "passing" as const },
      { registration: r("billing", "vm-9"), check: "passing" as const },
      { registration: r("user", "vm-1", { port: 8091 }), check: "warning" as const },
      { registration: r("user", "vm-2", { port: 8091 }), check: "passing" as const },
    ];
    const lines = registryDrift("staging", desired, observed).map(formatRegistryDrift);
    assert.deepEqual(lines, [
      "port        billing/billing-vm-1-9100 on vm-1: port 9200 in Consul, want 9100",
      "critical    billing/billing-vm-1-9100 on vm-1: check service:billing-vm-1-9100 is critical",
      "address     billing/billing-vm-2-9100 on vm-2: address 10.9.9.9 in Consul, want 10.0.0.2",
      "missing     billing/billing-vm-3-9100 on vm-3: not registered in Consul (want 10.0.0.3:9100)",
      "unexpected  billing/billing-vm-9-9100 on vm-9: amphi-tagged for staging but not desired (app billing, 10.0.0.9:9100)",
      "warning     user/user-vm-1-8091 on vm-1: check service:user-vm-1-8091 is warning",
    ]);
  });

  it("ignores registrations of other environments and ones without the amphi tag", () => {
    const observed = [
      { registration: r("billing", "vm-1", { env: "prod" }), check: "critical" as const },
      { registration: r("billing", "vm-2", { tags: ["env:staging"] }), check: "passing" as const },
    ];
    assert.deepEqual(registryDrift("staging", [], observed), []);
  });

  it("reads desired and actual states (the fixture's prod: one instance down, one missing)", () => {
    const desired = render(modelFixture(), "prod");
    const consul = desired.resources.filter((x) => x.runtime === "consul");
    const actual: ActualState = {
      env: "prod",
      observedAt: null,
      unreachable: [],
      resources: consul.slice(1).map((x, i) => ({ ...x, observed: { check: i === 0 ? "critical" : "passing" } })),
    };
    const drift = registryDriftOf(desired, actual);
    const id = (i: number) => (consul[i]!.runtime === "consul" ? consul[i]!.registration.id : "");
    // consul resources are sorted by key consul/<service>/<id>, the drift order's first two fields
    assert.deepEqual(drift.map((d) => [d.kind, d.id]), [["missing", id(0)], ["critical", id(1)]]);
  });
});
