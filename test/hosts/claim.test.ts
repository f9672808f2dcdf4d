// A baseDir another environment's state.json claims: every task of this environment fails naming the
// owner and the fix, and the owner's app keeps running untouched.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deploy, probe, restart, start, stop, undeploy, TaskError } from "../../src/hosts/tasks.js";
import { billingInstance, EXAMPLE_PACKAGE, freePort, httpGet, localHost, treeListing, type LocalHost } from "../support/local-host.js";

describe("a baseDir claimed by another environment", () => {
  let h: LocalHost;
  let port: number;
  before(async () => {
    h = await localHost();
    port = await freePort();
    await deploy(h.ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE }); // environment staging
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("refuses every task of environment prod and changes nothing", async () => {
    const prod = () => ({ ...h.ctx(), env: "prod" });
    const before = treeListing(h.baseDir);
    const pid = readFileSync(join(h.baseDir, "run/billing.pid"), "utf8");
    const tasks: [string, () => Promise<unknown>][] = [
      ["deploy", () => deploy(prod(), billingInstance(port, { env: "prod" }), { packageFile: EXAMPLE_PACKAGE })],
      ["undeploy", () => undeploy(prod(), "billing")],
      ["stop", () => stop(prod(), "billing")],
      ["start", () => start(prod(), "billing")],
      ["restart", () => restart(prod(), "billing")],
      ["probe", () => probe(prod())],
    ];
    for (const [name, run] of tasks) {
      await assert.rejects(run(), (e: unknown) => {
        assert.ok(e instanceof TaskError, `${name}: ${String(e)}`);
        assert.equal(e.message, `localhost: ${h.baseDir} belongs to environment staging (state.json); give environment prod its own baseDir (hostGroups[].baseDir)`, name);
        return true;
      });
    }
    assert.deepEqual(treeListing(h.baseDir), before);
    assert.equal(readFileSync(join(h.baseDir, "run/billing.pid"), "utf8"), pid);
    assert.equal((await httpGet(port, "/health")).status, 200);
  });
});
