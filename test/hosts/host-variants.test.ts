// The same tasks on differently equipped hosts: only busybox tools (no curl, no GNU coreutils), an app
// run as another user, and a login that is not root.
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { findExecutable } from "../../src/adapters/process/spawn.js";
import { deploy, probe, stop, TaskError, undeploy } from "../../src/hosts/tasks.js";
import type { HostSession } from "../../src/ports/hosts.js";
import type { TaskContext } from "../../src/hosts/task.js";
import {
  billingInstance,
  busyboxBin,
  eventually,
  EXAMPLE_PACKAGE,
  freePort,
  httpGet,
  localHost,
  NOBODY,
  nobodySession,
  processesUnder,
  wrapSession,
  type LocalHost,
} from "../support/local-host.js";
import { spawnSync } from "../support/spawn.js";

const hasBusybox = findExecutable("busybox", process.env) !== null;
const isRoot = process.getuid?.() === 0;
const fast = { healthTimeoutMs: 2000, stopGraceMs: 2000 };

const withSession = (h: LocalHost, session: HostSession): TaskContext => ({ ...h.ctx(), session });
const appPid = (h: LocalHost, app = "billing"): number => Number(readFileSync(join(h.baseDir, `run/${app}.pid`), "utf8"));
const uidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

describe("a host with only busybox tools", { skip: hasBusybox ? false : "busybox not installed (apt-get install busybox)" }, () => {
  let h: LocalHost;
  let ctx: () => TaskContext;
  before(async () => {
    h = await localHost();
    const session = wrapSession(h.session, ["/usr/bin/env", `PATH=${busyboxBin(h.dir)}`]);
    ctx = () => withSession(h, session);
  });
  after(async () => {
    await undeploy(ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("deploys, keeps an unchanged deploy unchanged, rolls back, stops and undeploys (health through busybox wget)", async () => {
    const port = await freePort();
    assert.equal((await deploy(ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE })).result, "changed");
    assert.equal((await httpGet(port, "/health")).status, 200);
    assert.equal((await deploy(ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE })).result, "unchanged");
    const bad = billingInstance(port, { environment: { APP_VERSION: "2.3.0", HEALTHY: "false" } });
    await assert.rejects(deploy(ctx(), bad, { packageFile: EXAMPLE_PACKAGE, ...fast }), (e: unknown) => e instanceof TaskError && e.rolledBack && /\(503\); rolled back/.test(e.message));
    assert.equal((await httpGet(port, "/health")).status, 200);
    assert.deepEqual((await probe(ctx())).health, { billing: "ok" });
    assert.equal((await stop(ctx(), "billing", fast)).result, "changed");
    assert.equal((await undeploy(ctx(), "billing", fast)).result, "changed");
    // busybox timeout(1) leaves its watcher process running for up to a second after wget is done
    assert.ok(await eventually(() => processesUnder(h.dir).length === 0, 3000), JSON.stringify(processesUnder(h.dir)));
  });
});

describe("an app run as another user", { skip: isRoot ? false : "needs root" }, () => {
  let h: LocalHost;
  before(async () => {
    h = await localHost();
    chmodSync(h.dir, 0o755); // the run-as user must reach its release
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("runs the process as that user, gives it the release but not .amphi/", async () => {
    const port = await freePort();
    const out = await deploy(h.ctx(), billingInstance(port, { user: "nobody" }), { packageFile: EXAMPLE_PACKAGE });
    assert.equal(out.result, "changed");
    assert.equal((await httpGet(port, "/health")).status, 200);
    const node = processesUnder(h.baseDir).filter((p) => p.cmd.startsWith("node "));
    assert.equal(node.length, 1);
    assert.equal(uidOf(node[0]!.pid), NOBODY);
    assert.equal(uidOf(appPid(h)), NOBODY);
    const rel = join(h.baseDir, "apps/billing/releases/2.3.0-5d3785d5");
    assert.equal(statSync(join(rel, "server.mjs")).uid, NOBODY);
    assert.equal(statSync(join(rel, ".amphi/env")).uid, 0);
    assert.equal(statSync(join(rel, ".amphi/env")).mode & 0o777, 0o600);
    await undeploy(h.ctx(), "billing");
    assert.deepEqual(processesUnder(h.dir), []);
  });

  it("the run-as user cannot swap in a .amphi/ of its own: amphi-exec refuses it rather than run its start command as root", async () => {
    const port = await freePort();
    assert.equal((await deploy(h.ctx(), billingInstance(port, { user: "nobody" }), { packageFile: EXAMPLE_PACKAGE })).result, "changed");
    const rel = join(h.baseDir, "apps/billing/releases/2.3.0-5d3785d5");
    // as nobody, who owns the release directory (not .amphi/): an env, a start command and an empty user of its own
    const swap = "mv .amphi .amphi-old && mkdir .amphi && echo X=1 >.amphi/env && echo 'id -u >ran-as; exec sleep 60' >.amphi/start && : >.amphi/user";
    const r = spawnSync("setpriv", ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", "sh", "-c", `cd "$1" && ${swap}`, "sh", rel], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    process.kill(appPid(h), "SIGKILL"); // the supervisor starts it again, through amphi-exec, as root
    const log = join(h.baseDir, "logs/billing.log");
    assert.ok(await eventually(() => readFileSync(log, "utf8").includes("is not amphi's"), 15_000), readFileSync(log, "utf8"));
    assert.equal(existsSync(join(rel, "ran-as")), false, "the swapped-in start command never ran");
    // nor does a deploy write through it: an env change made in place is refused, naming the directory
    const changed = billingInstance(port, { user: "nobody", environment: { ...billingInstance(port).environment, EXTRA: "1" } });
    await assert.rejects(deploy(h.ctx(), changed, { packageFile: EXAMPLE_PACKAGE }), (e: Error) => e.message.includes(`${rel}/.amphi is not amphi's`));
    assert.equal(readFileSync(join(rel, ".amphi/env"), "utf8"), "X=1\n", "nothing written through the swapped-in directory");
    await undeploy(h.ctx(), "billing");
    assert.deepEqual(processesUnder(h.dir), []);
  });

  it("refuses a user the host does not have", async () => {
    const port = await freePort();
    await assert.rejects(
      deploy(h.ctx(), billingInstance(port, { user: "amphi-no-such-user" }), { packageFile: EXAMPLE_PACKAGE }),
      /^TaskError: localhost: billing@2\.3\.0: user amphi-no-such-user does not exist on localhost$/,
    );
  });
});

describe("a login that is not root", { skip: isRoot ? false : "needs root (to log in as nobody)" }, () => {
  let h: LocalHost;
  let ctx: () => TaskContext;
  before(async () => {
    h = await localHost();
    const session = nobodySession(h);
    ctx = () => withSession(h, session);
  });
  after(async () => {
    await undeploy(ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("deploys and undeploys as that user", async () => {
    const port = await freePort();
    assert.equal((await deploy(ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE })).result, "changed");
    assert.equal(uidOf(appPid(h)), NOBODY);
    assert.equal((await deploy(ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE })).result, "unchanged");
    assert.equal((await undeploy(ctx(), "billing")).result, "changed");
    assert.deepEqual(processesUnder(h.dir), []);
  });

  it("explains why it cannot run an app as a different user", async () => {
    const port = await freePort();
    await assert.rejects(
      deploy(ctx(), billingInstance(port, { user: "daemon" }), { packageFile: EXAMPLE_PACKAGE }),
      /^TaskError: localhost: billing@2\.3\.0: runs as user daemon, but amphi logs in to localhost as nobody, who cannot switch users; log in as root or as daemon$/,
    );
  });
});
