// A first deploy cancelled at any moment (the run's AbortSignal fires) leaves the host as it was: no
// process under the base dir, no `current`, no record in state.json.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deploy, undeploy } from "../../src/hosts/tasks.js";
import { readHostState } from "../../src/hosts/state-file.js";
import { SUPERVISE_SH } from "../../src/hosts/scripts.js";
import { billingInstance, EXAMPLE_PACKAGE, eventually, freePort, localHost, processesUnder, type LocalHost } from "../support/local-host.js";

describe("host tasks: a cancelled first deploy", () => {
  let h: LocalHost;
  before(async () => {
    h = await localHost();
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  // 300 ms: during the health gate (the reported case); the others during install and activation
  for (const ms of [40, 120, 300, 1000]) {
    it(`cancelled ${ms} ms in: no process, no current, no record`, async () => {
      const port = await freePort();
      const inst = billingInstance(port, { environment: { HEALTHY: "false" } });
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), ms);
      let caught: unknown;
      await deploy(h.ctx(ac.signal), inst, { packageFile: EXAMPLE_PACKAGE, healthTimeoutMs: 20_000, stopGraceMs: 2000 }).catch((e: unknown) => (caught = e));
      clearTimeout(timer);
      assert.ok(caught instanceof Error, "the deploy fails");
      // a supervisor that survived would (re)start the app within a couple of seconds
      const clean = await eventually(() => processesUnder(h.baseDir).length === 0, 500);
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(processesUnder(h.baseDir), [], `${(caught as Error).message}\n${h.logs.join("\n")}`);
      assert.ok(clean);
      assert.equal(existsSync(join(h.baseDir, "apps/billing/current")), false, (caught as Error).message);
      assert.deepEqual((await readHostState(h.session, "staging", "now")).apps, {});
    });
  }

  it("a supervisor started for an app without a current release (its start was cancelled, its rollback removed current) exits by itself", async () => {
    // Installed here as the host tasks install it: on a loaded machine every cancel above may have come before
    // the deploy got as far as installing bin/amphi-supervise (sh then exits 2: no such file).
    mkdirSync(join(h.baseDir, "bin"), { recursive: true });
    mkdirSync(join(h.baseDir, "run"), { recursive: true });
    writeFileSync(join(h.baseDir, "bin/amphi-supervise"), SUPERVISE_SH + "\n", { mode: 0o755 });
    const child = spawn("/bin/sh", [join(h.baseDir, "bin/amphi-supervise"), h.baseDir, "billing", "1"], { stdio: "ignore", detached: true });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const timer = new Promise<string>((r) => setTimeout(() => r("still running"), 3000));
    assert.equal(await Promise.race([exited, timer]), 0);
    assert.equal(existsSync(join(h.baseDir, "run/billing.supervisor.pid")), false);
    assert.deepEqual(processesUnder(h.baseDir), []);
  });
});
