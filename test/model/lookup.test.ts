// Model lookups shared by render and the runtimes: apps by name, an app's ports and first health check,
// host targets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appIndex, appPorts, findApp, firstHealthCheck, hostGroupOf, hostTarget, type AppModel } from "../../src/model/index.js";
import { modelFixture } from "../support/model-fixture.js";

const catalog = (): AppModel => modelFixture().apps.find((a) => a.name === "catalog")!;

test("findApp finds an indexed app, and throws naming an unknown one", () => {
  const apps = appIndex(modelFixture());
  assert.equal(findApp(apps, "billing").name, "billing");
  assert.throws(() => findApp(apps, "nope"), /placement names unknown app "nope"/);
});

test("appPorts: every service's ports sorted by port; two services on one port throw naming both", () => {
  const app = catalog();
  assert.deepEqual(appPorts(app).map((p) => p.targetPort), [8080, 9090]);
  const clash: AppModel = { ...app, services: [...app.services, { ...app.services[0]!, name: "again" }] };
  assert.throws(() => appPorts(clash), new RegExp(`app catalog: port 8080 is used by services ${app.services[0]!.name} and again`));
});

test("firstHealthCheck: the first service with a check, in spec order; null when none has one", () => {
  const app = catalog();
  const first = app.services.find((s) => s.healthCheck)!;
  assert.deepEqual(firstHealthCheck(app), { service: first.name, check: first.healthCheck });
  assert.equal(firstHealthCheck({ ...app, services: app.services.map((s) => ({ ...s, healthCheck: null })) }), null);
});

test("hostTarget and hostGroupOf: `<hostGroup>/<host>` and back", () => {
  assert.equal(hostTarget("legacy", "vm-1"), "legacy/vm-1");
  assert.equal(hostGroupOf(hostTarget("legacy", "vm-1")), "legacy");
});
