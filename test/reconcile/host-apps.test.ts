// hostApps: what a host probe becomes in the actual state (recorded apps, deploys whose run died, apps that
// run with no record), and what the plan makes of them: a redeploy when desired, an undeploy when not.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hostApps } from "../../src/runtime-io/vm.js";
import { diff } from "../../src/diff/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { tasksForPlan } from "../../src/plan/tasks.js";
import { emptyHostState, type ActualState, type DesiredState } from "../../src/model/index.js";
import type { HostProbe } from "../../src/hosts/probe.js";
import { billingInstance, localRef } from "../support/local-host.js";

const ref = localRef("/srv/amphi");
const inst = (app: string, version = "2.3.0") => ({ ...billingInstance(9100, { version }), app, env: "staging", hostGroup: "local", host: "localhost" });

function probeOf(): HostProbe {
  const state = emptyHostState("staging", "local", "localhost", "t0");
  state.apps.billing = { instance: inst("billing"), release: "2.3.0-5d3785d5", previous: null, running: true, deployedAt: "t0" };
  state.apps.user = { instance: inst("user"), release: "2.3.0-5d3785d5", previous: null, running: true, deployedAt: "t0" };
  state.pending = {
    user: { release: "2.4.0-aaaaaaaa", instance: inst("user", "2.4.0"), previous: "2.3.0-5d3785d5", previousRunning: true, since: "t1" },
    web: { release: "1.0.0-bbbbbbbb", instance: inst("web", "1.0.0"), previous: null, previousRunning: false, since: "t1" },
  };
  return {
    state,
    processes: { billing: "running", catalog: "running", old: "stopped", user: "running", web: "running" },
    health: { billing: "ok", catalog: "ok", old: "none", user: "failing", web: "ok" },
    current: { billing: "2.3.0-5d3785d5", catalog: "1.8.1-82b8b638", old: "0.1.0-cccccccc", user: "2.4.0-aaaaaaaa", web: "1.0.0-bbbbbbbb" },
  };
}

test("recorded apps as they are; an interrupted deploy with its last good instance (or the one under way); an app running unrecorded; a stopped unrecorded directory is left out", () => {
  const out = hostApps("staging", ref, probeOf());
  assert.deepEqual(
    out.map((r) => [r.key, r.runtime === "vm" ? r.instance.version : null, r.observed]),
    [
      ["vm/local/localhost/billing", "2.3.0", { process: "running" }],
      ["vm/local/localhost/user", "2.3.0", { process: "running", record: { state: "interrupted", detail: "interrupted-deploy(2.4.0-aaaaaaaa)" } }],
      ["vm/local/localhost/web", "1.0.0", { process: "running", record: { state: "interrupted", detail: "interrupted-deploy(1.0.0-bbbbbbbb)" } }],
      ["vm/local/localhost/catalog", "1.8.1", { process: "running", record: { state: "unrecorded", detail: "running-unrecorded(1.8.1-82b8b638)" } }],
    ],
  );
});

test("the plan redeploys an interrupted or unrecorded app that is desired, even when the record equals the desired instance, and undeploys one that is not", () => {
  const resources = hostApps("staging", ref, probeOf());
  const actual: ActualState = { env: "staging", observedAt: null, resources, unreachable: [] };
  const desiredOf = (app: string) => ({ runtime: "vm" as const, key: `vm/local/localhost/${app}`, app, target: "local/localhost", instance: inst(app) });
  const desired: DesiredState = { env: "staging", resources: [desiredOf("billing"), desiredOf("catalog"), desiredOf("user")] };
  const plan = buildPlan(diff(desired, actual, { ignore: [] }), {}, null);
  const steps = plan.steps.map((s) => [s.app, s.op, s.op === "update" ? s.fields.map((f) => `${f.path} ${String(f.from)}→${String(f.to)}`) : []]);
  assert.deepEqual(steps, [
    ["catalog", "update", ["record running-unrecorded(1.8.1-82b8b638)→recorded"]],
    ["user", "update", ["record interrupted-deploy(2.4.0-aaaaaaaa)→recorded"]],
    ["web", "delete", []],
  ]);
  assert.deepEqual(
    tasksForPlan(plan, desired).map((t) => `${t.kind} ${t.app}`),
    ["deploy catalog", "deploy user", "undeploy web"],
  );
});
