// A deploy whose state.json write fails, on a real sshd host in a network namespace logged in as the unprivileged
// test user: the base dir made read-only (so no state.json.tmp can be created there) while apps/ and packages/ stay
// writable. The activate step (control.sh, through src/hosts/supervisor.ts) records the deploy's intent first and
// exits 5 when that fails, before anything changes: the task fails naming the host, the app and state.json with the
// shell's reason; the running release, its process, `current` and the record stay as they were.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SshConnector } from "../../src/adapters/ssh/index.js";
import { StateWriteError } from "../../src/hosts/state-file.js";
import type { TaskContext } from "../../src/hosts/task.js";
import { deploy, TaskError, undeploy } from "../../src/hosts/tasks.js";
import type { HostRef } from "../../src/ports/hosts.js";
import { billingInstance, buildPackage, EXAMPLE_PACKAGE, EXAMPLE_SHA, httpGet, killUnder, processesUnder } from "../support/local-host.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";

const support = fleetSupported();
const skip = support.ok ? false : process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`;
const PORT = 9100;

describe("a deploy whose state.json cannot be written (netns sshd host, unprivileged login)", { skip }, () => {
  let fleet: TestFleet;
  let connector: SshConnector;
  let dir: string;
  let v2: { path: string; sha256: string };
  const logs: string[] = [];

  const ref = (): HostRef => {
    const h = fleet.hosts[0]!;
    return { group: "fleet", host: h.name, address: h.address, transport: "ssh", baseDir: h.baseDir, ssh: { user: h.user, port: 22, identityFile: fleet.privateKeyPath, knownHostsFile: fleet.knownHostsPath, proxyJump: null } };
  };
  const ctx = async (): Promise<TaskContext> => ({ session: await connector.open(ref()), env: "staging", now: () => new Date().toISOString(), log: (line) => logs.push(line) });
  const inst = (over: Parameters<typeof billingInstance>[1] = {}) => {
    const h = fleet.hosts[0]!;
    return billingInstance(PORT, { host: h.name, hostGroup: "fleet", address: h.address, baseDir: h.baseDir, ...over });
  };

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 1 });
    connector = new SshConnector({ knownHostsFile: fleet.knownHostsPath });
    dir = mkdtempSync(join(tmpdir(), `amphi-state-write-${process.pid}-`));
    v2 = buildPackage(dir, "billing-2.4.0", { VERSION: "2.4.0\n" });
  });
  after(async () => {
    if (fleet) {
      chmodSync(fleet.hosts[0]!.baseDir, 0o755);
      await undeploy(await ctx(), "billing").catch(() => {});
      await connector.closeAll();
      killUnder(fleet.hosts[0]!.baseDir);
      await fleet.cleanup();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("fails the deploy naming host, app and state.json; nothing changed: the old release keeps running", async () => {
    const h = fleet.hosts[0]!;
    assert.equal((await deploy(await ctx(), inst(), { packageFile: EXAMPLE_PACKAGE })).result, "changed");
    const v1 = `2.3.0-${EXAMPLE_SHA.slice(0, 8)}`;
    const state = readFileSync(join(h.baseDir, "state.json"), "utf8");
    const running = processesUnder(h.baseDir).map((p) => p.pid).sort();
    assert.notDeepEqual(running, []);
    // Read-only for the login user: packages/ and apps/ (its own) stay writable, state.json.tmp cannot be created.
    chmodSync(h.baseDir, 0o555);
    let error: unknown;
    try {
      await deploy(await ctx(), inst({ version: "2.4.0", sha256: v2.sha256, environment: { APP_VERSION: "2.4.0" } }), { packageFile: v2.path, healthTimeoutMs: 5000, stopGraceMs: 2000 });
    } catch (e) {
      error = e;
    } finally {
      chmodSync(h.baseDir, 0o755);
    }
    assert.ok(error instanceof StateWriteError, `a StateWriteError, not ${String(error)}`);
    assert.ok(error instanceof TaskError);
    assert.equal(error.rolledBack, false);
    const path = join(h.baseDir, "state.json");
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(error.message, new RegExp(`^host0: billing@2\\.4\\.0: cannot write ${esc(path)}: .*Permission denied.* \\(the deploy records its intent there before switching to 2\\.4\\.0-${v2.sha256.slice(0, 8)}, so nothing was changed: ${esc(v1)} stays current and keeps running\\)$`));
    assert.doesNotMatch(error.message, /\n/, "one line");
    // Nothing changed: same process, same release, same record.
    assert.equal(readlinkSync(join(h.baseDir, "apps/billing/current")), `releases/${v1}`);
    assert.equal(JSON.parse((await httpGet(PORT, "/", h.address)).body).version, "2.3.0");
    assert.deepEqual(processesUnder(h.baseDir).map((p) => p.pid).sort(), running, "the same processes");
    assert.equal(readFileSync(join(h.baseDir, "state.json"), "utf8"), state);
    // Writable again: the same deploy goes through.
    assert.equal((await deploy(await ctx(), inst({ version: "2.4.0", sha256: v2.sha256, environment: { APP_VERSION: "2.4.0" } }), { packageFile: v2.path })).result, "changed");
    assert.equal(JSON.parse((await httpGet(PORT, "/", h.address)).body).version, "2.4.0");
  });

  it("a deploy whose final record fails after the start names what runs; the next deploy undoes and redoes it", async () => {
    const h = fleet.hosts[0]!;
    const current = `2.4.0-${v2.sha256.slice(0, 8)}`;
    const v3 = buildPackage(dir, "billing-2.5.0", { VERSION: "2.5.0\n" });
    // The new release makes the base dir read-only as it starts: the intent was written, the final record cannot be.
    const next = inst({ version: "2.5.0", sha256: v3.sha256, environment: { APP_VERSION: "2.5.0" }, start: `chmod 555 '${h.baseDir}' && exec node server.mjs ${PORT} billing` });
    let error: unknown;
    try {
      await deploy(await ctx(), next, { packageFile: v3.path, healthTimeoutMs: 10_000, stopGraceMs: 2000 });
    } catch (e) {
      error = e;
    } finally {
      chmodSync(h.baseDir, 0o755);
    }
    assert.ok(error instanceof StateWriteError, `a StateWriteError, not ${String(error)}`);
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const release = `2\\.5\\.0-${v3.sha256.slice(0, 8)}`;
    assert.match(error.message, new RegExp(`^host0: billing@2\\.5\\.0: ${release} runs \\(pid \\d+\\), but recording it failed: cannot write ${esc(join(h.baseDir, "state.json"))}: .*Permission denied.* \\(state\\.json still says the deploy is in progress, so the next deploy puts ${esc(current)} back first\\)$`));
    assert.equal(JSON.parse((await httpGet(PORT, "/", h.address)).body).version, "2.5.0", "what the message says runs");
    const state = JSON.parse(readFileSync(join(h.baseDir, "state.json"), "utf8")) as { pending?: Record<string, { release: string }> };
    assert.equal(state.pending?.["billing"]?.release, `2.5.0-${v3.sha256.slice(0, 8)}`, "the intent is on record");
    // As the message says: the next deploy (2.5.0 again, now writable) undoes the interrupted one and deploys.
    const again = await deploy(await ctx(), inst({ version: "2.5.0", sha256: v3.sha256, environment: { APP_VERSION: "2.5.0" } }), { packageFile: v3.path });
    assert.equal(again.result, "changed");
    assert.ok(logs.some((l) => new RegExp(`^billing: found an interrupted deploy of ${release} .*; putting back the last good release ${esc(current)}$`).test(l)), logs.join("\n"));
    assert.equal(JSON.parse(readFileSync(join(h.baseDir, "state.json"), "utf8")).pending?.["billing"], undefined, "recorded now");
    assert.equal(JSON.parse((await httpGet(PORT, "/", h.address)).body).version, "2.5.0");
  });
});
