// amphi's sh supervisor for real: restart backoff, stop with a grace period then KILL, a clean
// environment for the app. Driven through the control script, as the tasks drive it.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { control } from "../../src/hosts/supervisor.js";
import { eventually, localHost, processesUnder, type LocalHost } from "../support/local-host.js";

/** Lays out apps/<app>/releases/r1 with a start command (no package needed) and points current at it. */
function fakeRelease(h: LocalHost, app: string, start: string): void {
  const rel = join(h.baseDir, "apps", app, "releases", "r1");
  mkdirSync(join(rel, ".amphi"), { recursive: true });
  writeFileSync(join(rel, ".amphi/env"), "");
  writeFileSync(join(rel, ".amphi/start"), `${start}\n`);
  writeFileSync(join(rel, ".amphi/user"), "\n");
  writeFileSync(join(rel, ".amphi/health"), "\n");
  symlinkSync("releases/r1", join(h.baseDir, "apps", app, "current"));
}

describe("amphi-supervise", () => {
  let h: LocalHost;
  before(async () => {
    h = await localHost();
  });
  afterEach(async () => {
    for (const app of ["crashy", "stubborn", "envy", "leaver"]) await control(h.ctx(), app, app, ["stop"], 1000).catch(() => {});
  });
  after(async () => {
    await h.cleanup();
  });

  it("restarts an app that keeps exiting after 1 s, then 2 s, then 4 s", async () => {
    fakeRelease(h, "crashy", "echo run; exit 7");
    const out = await control(h.ctx(), "crashy", "crashy", ["start"], 1000);
    assert.equal(out.result, "started");
    const log = () => readFileSync(join(h.baseDir, "logs/crashy.log"), "utf8");
    assert.ok(await eventually(() => /restarting in 4s/.test(log()), 6000), log());
    const delays = [...log().matchAll(/exited with status 7 after \d+s; restarting in (\d+)s/g)].map((m) => Number(m[1]));
    assert.deepEqual(delays.slice(0, 3), [1, 2, 4]);
    assert.match(readFileSync(join(h.baseDir, "run/crashy.exit"), "utf8"), /^7 \d+\n$/);
    assert.equal((await control(h.ctx(), "crashy", "crashy", ["stop"], 1000)).result, "stopped");
    assert.deepEqual(processesUnder(join(h.baseDir, "apps/crashy")), []);
    assert.ok(!processesUnder(h.dir).some((p) => p.cmd.includes("amphi-supervise") && p.cmd.includes("crashy")));
  });

  it("stops what an exited app left running in its process group before it starts the app again", async () => {
    // the app's shell exits at once; the sleep it started in the background stays in the app's process group
    fakeRelease(h, "leaver", "sleep 300 & echo $! >> sleepers; exit 3");
    await control(h.ctx(), "leaver", "leaver", ["start"], 1000);
    const log = () => readFileSync(join(h.baseDir, "logs/leaver.log"), "utf8");
    assert.ok(await eventually(() => /restarting in 2s/.test(log()), 30_000), log());
    const [first] = readFileSync(join(h.baseDir, "apps/leaver/releases/r1/sleepers"), "utf8").trim().split("\n");
    const alive = (pid: string) => processesUnder(join(h.baseDir, "apps/leaver")).some((p) => String(p.pid) === pid);
    assert.equal(alive(first!), false, `the first run's sleep (pid ${first}) was stopped with its group\n${log()}`);
    assert.equal((await control(h.ctx(), "leaver", "leaver", ["stop"], 1000)).result, "stopped");
    assert.deepEqual(processesUnder(join(h.baseDir, "apps/leaver")), []);
  });

  it("KILLs an app that ignores TERM once the grace period is over", async () => {
    fakeRelease(h, "stubborn", "trap '' TERM; echo ready; while :; do sleep 1; done");
    await control(h.ctx(), "stubborn", "stubborn", ["start"], 1000);
    assert.ok(await eventually(() => readFileSync(join(h.baseDir, "logs/stubborn.log"), "utf8").includes("ready")));
    const t0 = performance.now();
    assert.equal((await control(h.ctx(), "stubborn", "stubborn", ["stop"], 1000)).result, "stopped");
    const ms = performance.now() - t0;
    assert.ok(ms >= 900 && ms < 6000, `stop took ${ms.toFixed(0)} ms`);
    assert.deepEqual(processesUnder(join(h.baseDir, "apps/stubborn")), []);
    assert.equal((await control(h.ctx(), "stubborn", "stubborn", ["stop"], 1000)).result, "unchanged");
  });

  it("gives the app only its env file, not amphi's environment", async () => {
    process.env.AMPHI_TEST_SECRET_TOKEN = "must-not-leak";
    try {
      fakeRelease(h, "envy", "env > envdump; exec sleep 60");
      writeFileSync(join(h.baseDir, "apps/envy/releases/r1/.amphi/env"), "GREETING='hi there'\n");
      await control(h.ctx(), "envy", "envy", ["start"], 1000);
      const dump = join(h.baseDir, "apps/envy/releases/r1/envdump");
      // the app writes the dump after the start returned (no fixed wait any more): wait for it, 60 s safety net
      assert.ok(await eventually(() => readFileSync(dump, "utf8").includes("GREETING"), 60_000), "the app wrote its environment");
      const env = readFileSync(dump, "utf8");
      assert.match(env, /^GREETING=hi there$/m);
      assert.doesNotMatch(env, /AMPHI_TEST_SECRET_TOKEN/);
    } finally {
      delete process.env.AMPHI_TEST_SECRET_TOKEN;
    }
  });
});
