// render as a whole: environment lookup, key order, determinism, and the errors that protect users.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { render, renderFiles } from "../../src/render/index.js";
import { modelFixture, withApp, withEnvironment } from "../support/model-fixture.js";

describe("render", () => {
  const model = modelFixture();

  it("throws for an unknown environment, naming it and the known ones", () => {
    assert.throws(() => render(model, "prdo"), { message: 'unknown environment "prdo" (known: prod)' });
    const none = { ...model, environments: [] };
    assert.throws(() => render(none, "prod"), /unknown environment "prod" \(none are defined\)/);
  });

  it("returns the environment's name and resources sorted by key", () => {
    const desired = render(model, "prod");
    assert.equal(desired.env, "prod");
    const keys = desired.resources.map((r) => r.key);
    assert.deepEqual(keys, [...keys].sort());
    assert.equal(new Set(keys).size, keys.length);
  });

  it("is deterministic: same model, same JSON and same file bytes", () => {
    const a = render(modelFixture(), "prod");
    const b = render(modelFixture(), "prod");
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.deepEqual(renderFiles(a), renderFiles(b));
  });

  it("does not depend on the order placements are written in", () => {
    const reversed = withEnvironment(model, (env) => ({ ...env, placements: [...env.placements].reverse() }));
    assert.equal(JSON.stringify(render(reversed, "prod")), JSON.stringify(render(model, "prod")));
  });

  it("does not change its input", () => {
    const input = modelFixture();
    const before = JSON.stringify(input);
    renderFiles(render(input, "prod"));
    assert.equal(JSON.stringify(input), before);
  });

  it("throws when two objects would share a key, instead of dropping one", () => {
    // Two apps whose services share a name collide in one namespace.
    const clash = withApp(model, "web", (app) => ({ ...app, services: [{ ...app.services[0]!, name: "user" }] }));
    assert.throws(() => render(clash, "prod"), /k8s\/eu1\/Service\/shop\/user is rendered twice \(from user and web\)/);
  });

  it("throws when two apps would listen on one port of one host", () => {
    const clash = withApp(model, "billing", (app) => ({
      ...app,
      services: [{ ...app.services[0]!, ports: [{ name: "http", targetPort: 8080, protocol: "http" }] }],
    }));
    assert.throws(() => render(clash, "prod"), { message: "host legacy/vm-1: port 8080 is used by apps billing and catalog" });
  });

  it("throws when a placement names a host its group does not have", () => {
    const bad = withEnvironment(model, (env) => ({
      ...env,
      placements: env.placements.map((p) => (p.type === "hostGroup" ? { ...p, hosts: ["vm-9"] } : p)),
    }));
    assert.throws(() => render(bad, "prod"), /host group legacy has no host "vm-9"/);
  });
});
