// deploy finding a deploy whose run died (a `pending` record in state.json), set up by hand at the moments a
// kill can leave: it puts the last good release back before deploying, restores only the files an in-place
// change really swapped (never an older change's copy left in .amphi/rollback/), and copes with a last good
// release that is gone from the host. And the per-app lock that makes a new run wait for a killed run's
// script still running on the host.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deploy, start, stop, undeploy } from "../../src/hosts/tasks.js";
import type { HostStateFile, PendingDeploy } from "../../src/model/index.js";
import { billingInstance, eventually, EXAMPLE_PACKAGE, freePort, httpGet, localHost, type LocalHost } from "../support/local-host.js";

/** The app answers /health on `port` (a recovery's restart passes the health gate before deploy returns; the
 * deploys after a missing last good release start the app anew). */
const healthy = (port: number) => eventually(async () => (await httpGet(port, "/health")).status === 200, 30_000);

const V1 = "2.3.0-5d3785d5";
const opts = { packageFile: EXAMPLE_PACKAGE, healthTimeoutMs: 20_000, stopGraceMs: 2000 };

describe("deploy after a run that died mid-deploy", () => {
  let h: LocalHost;
  let port: number;
  const meta = () => join(h.baseDir, "apps/billing/releases", V1, ".amphi");
  const stateFile = () => join(h.baseDir, "state.json");
  const addPending = (p: PendingDeploy) => {
    const s = JSON.parse(readFileSync(stateFile(), "utf8")) as HostStateFile;
    writeFileSync(stateFile(), JSON.stringify({ ...s, pending: { billing: p } }, null, 2) + "\n");
  };
  const inst = (value: string) => billingInstance(port, { environment: { APP_VERSION: "2.3.0", STEP: value } });

  before(async () => {
    h = await localHost();
    port = await freePort();
    await deploy(h.ctx(), inst("1"), opts);
    await deploy(h.ctx(), inst("2"), opts); // in place: .amphi/rollback/ keeps step 1's files
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("killed after install wrote .amphi/next/ but before the swap: the files in place stay, an older change's rollback/ copy is not restored", async () => {
    assert.match(readFileSync(join(meta(), "rollback/env"), "utf8"), /STEP='1'/, "an older change's copy is there");
    mkdirSync(join(meta(), "next"), { recursive: true });
    for (const f of ["start", "user", "health"]) cpSync(join(meta(), f), join(meta(), "next", f));
    writeFileSync(join(meta(), "next/env"), "APP_VERSION='2.3.0'\nSTEP='3'\n");
    addPending({ release: V1, instance: inst("3"), previous: V1, previousRunning: true, since: "2026-01-01T00:00:00.000Z" });
    const out = await deploy(h.ctx(), inst("2"), opts);
    assert.equal(out.result, "changed");
    assert.match(out.message, new RegExp(`undid an interrupted deploy of ${V1} \\(since 2026-01-01T00:00:00.000Z\\): back to ${V1}; up to date`));
    assert.match(readFileSync(join(meta(), "env"), "utf8"), /STEP='2'/);
    assert.ok(await healthy(port), "the app answers /health");
    assert.equal((JSON.parse(readFileSync(stateFile(), "utf8")) as HostStateFile).pending, undefined);
  });

  it("killed between the two moves of one file in activate: that file comes back from rollback/", async () => {
    // activate moved env to rollback/ and was killed before moving next/env into place
    mkdirSync(join(meta(), "next"), { recursive: true });
    mkdirSync(join(meta(), "rollback"), { recursive: true });
    writeFileSync(join(meta(), "next/env"), "APP_VERSION='2.3.0'\nSTEP='4'\n");
    cpSync(join(meta(), "env"), join(meta(), "rollback/env"));
    rmSync(join(meta(), "env"));
    addPending({ release: V1, instance: inst("4"), previous: V1, previousRunning: true, since: "2026-01-01T00:00:01.000Z" });
    await deploy(h.ctx(), inst("2"), opts);
    assert.match(readFileSync(join(meta(), "env"), "utf8"), /STEP='2'/);
    assert.ok(await healthy(port), "the app answers /health");
  });

  it("a last good release that is gone from the host: the app is left stopped, and the deploy goes on", async () => {
    addPending({ release: "2.4.0-aaaaaaaa", instance: inst("5"), previous: "2.2.0-bbbbbbbb", previousRunning: true, since: "2026-01-01T00:00:02.000Z" });
    const out = await deploy(h.ctx(), inst("2"), opts);
    assert.equal(out.result, "changed", out.message);
    assert.match(h.logs.join("\n"), /the last good release 2\.2\.0-bbbbbbbb is no longer on the host/);
    assert.ok(await healthy(port), "the app answers /health");
    const s = JSON.parse(readFileSync(stateFile(), "utf8")) as HostStateFile;
    assert.equal(s.pending, undefined);
    assert.equal(s.apps.billing?.release, V1);
  });

  it("a last good release the recovery starts again is up to date only once it passes its health gate", async () => {
    // What the killed run left in place makes the app answer 503 on /health once restarted (files in place stay).
    writeFileSync(join(meta(), "env"), "APP_VERSION='2.3.0'\nSTEP='2'\nHEALTHY='false'\n");
    addPending({ release: V1, instance: inst("6"), previous: V1, previousRunning: true, since: "2026-01-01T00:00:03.000Z" });
    await assert.rejects(deploy(h.ctx(), inst("2"), { ...opts, healthTimeoutMs: 2000 }), (e: Error) => {
      assert.match(e.message, new RegExp(`undid an interrupted deploy of ${V1} .*: back to ${V1}, but ${V1} \\(pid \\d+\\) does not pass its health check: health check http://127\\.0\\.0\\.1:${port}/health failed after 2s \\(503\\)`));
      return true;
    });
  });
});

describe("host scripts of one app wait for each other (run/<app>.lock)", () => {
  let h: LocalHost;
  before(async () => {
    h = await localHost();
    await deploy(h.ctx(), billingInstance(await freePort()), opts);
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("a control action waits while a live script of the app holds the lock, and takes over a lock whose holder is gone", async () => {
    const lock = join(h.baseDir, "run/billing.lock");
    // a stand-in for a killed run's script still running on the host: its argv names the app
    const holder = spawn("sh", ["-c", "sleep 2", "amphi", h.baseDir, "billing", "staging"], { stdio: "ignore" });
    const exited = new Promise((r) => holder.once("exit", r));
    symlinkSync(String(holder.pid), lock);
    const t0 = Date.now();
    await stop(h.ctx(), "billing", { stopGraceMs: 2000 });
    const waited = Date.now() - t0;
    await exited;
    assert.ok(waited >= 1500, `stop waited ${waited} ms for the holder`);
    assert.equal(existsSync(lock), false, "released at exit");
    // a holder that is gone (pid of an exited process) does not block
    rmSync(lock, { force: true });
    symlinkSync(String(holder.pid), lock);
    const t1 = Date.now();
    await start(h.ctx(), "billing", { stopGraceMs: 2000, healthTimeoutMs: 20_000 });
    assert.ok(Date.now() - t1 < 15_000);
    assert.equal(existsSync(lock), false);
  });
});
