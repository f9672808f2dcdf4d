// The health gate checks that the process answering on the app's ports is the app (its pid, a descendant
// or its process group), not something that held the port first: a deploy onto a port another process
// holds fails naming the port and the holder, and rolls back.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deploy, TaskError, undeploy } from "../../src/hosts/tasks.js";
import type { TaskContext } from "../../src/hosts/task.js";
import { billingInstance, busyboxBin, EXAMPLE_PACKAGE, eventually, freePort, httpGet, localHost, nobodySession, processesUnder, wrapSession, type LocalHost } from "../support/local-host.js";

const fast = { healthTimeoutMs: 3000, stopGraceMs: 2000 };
const hasBusybox = spawnSync("sh", ["-c", "command -v busybox"]).status === 0;
const isRoot = process.getuid?.() === 0;

/** A foreign HTTP server (not started by amphi) that answers 200 to everything on 127.0.0.1:port. */
async function foreignServer(dir: string, port: number, opts: { uid?: number } = {}): Promise<ChildProcess> {
  const script = join(dir, "foreign.cjs");
  writeFileSync(script, 'require("http").createServer((q, s) => s.end("foreign\\n")).listen(Number(process.argv[2]), "127.0.0.1")\n');
  chmodSync(script, 0o644);
  const child = spawn(process.execPath, [script, String(port)], { stdio: "ignore", uid: opts.uid, gid: opts.uid });
  assert.ok(await eventually(async () => (await httpGet(port, "/health")).body === "foreign\n", 5000), "foreign server did not start");
  return child;
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function stopForeign(child: ChildProcess | undefined): void {
  if (child?.pid && child.exitCode === null) child.kill("SIGKILL");
}

async function failure(p: Promise<unknown>): Promise<TaskError> {
  let caught: unknown;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof TaskError, `expected a TaskError, got ${String(caught)}`);
  return caught;
}

describe("health gate: the answering process must be the app", () => {
  let h: LocalHost;
  let foreign: ChildProcess | undefined;
  before(async () => {
    h = await localHost();
  });
  after(async () => {
    stopForeign(foreign);
    for (const app of ["billing", "forked"]) await undeploy(h.ctx(), app, fast).catch(() => {});
    await h.cleanup();
  });

  it("a first deploy onto a port another process holds fails naming port and holder; nothing of the app runs", async () => {
    const port = await freePort();
    foreign = await foreignServer(h.dir, port);
    const e = await failure(deploy(h.ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE, ...fast }));
    const holder = `pid ${foreign.pid} \\(${esc(process.execPath)} ${esc(join(h.dir, "foreign.cjs"))} ${port}\\)`;
    assert.match(e.message, new RegExp(`^localhost: billing@2\\.3\\.0: port ${port} is held by ${holder}, not by billing \\(pid \\d+\\); stopped; there is no previous release to roll back to$`));
    assert.equal(e.rolledBack, true);
    assert.equal(existsSync(join(h.baseDir, "apps/billing/current")), false);
    assert.ok(await eventually(() => processesUnder(h.baseDir).length === 0, 5000), JSON.stringify(processesUnder(h.baseDir)));
    assert.equal((await httpGet(port, "/")).body, "foreign\n", "the holder is left alone");
    stopForeign(foreign);
  });

  it("an update whose new port is held rolls back to the release that serves on the old port", async () => {
    const [port, taken] = [await freePort(), await freePort()];
    assert.equal((await deploy(h.ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE })).result, "changed");
    foreign = await foreignServer(h.dir, taken);
    const moved = billingInstance(taken, { environment: { APP_VERSION: "2.3.1" } });
    const e = await failure(deploy(h.ctx(), moved, { packageFile: EXAMPLE_PACKAGE, ...fast }));
    assert.match(e.message, new RegExp(`: port ${taken} is held by pid ${foreign.pid} \\(.*foreign\\.cjs ${taken}\\), not by billing \\(pid \\d+\\); rolled back to 2\\.3\\.0-5d3785d5$`));
    assert.equal((await httpGet(port, "/health")).status, 200, "the previous release serves again");
    stopForeign(foreign);
    await undeploy(h.ctx(), "billing", fast);
  });

  it("a held port that is not the health port fails too", async () => {
    const [port, other] = [await freePort(), await freePort()];
    foreign = await foreignServer(h.dir, other);
    const inst = billingInstance(port, { ports: [{ name: `http-${port}`, port, protocol: "http" }, { name: "admin", port: other, protocol: "tcp" }] });
    const e = await failure(deploy(h.ctx(), inst, { packageFile: EXAMPLE_PACKAGE, ...fast }));
    assert.match(e.message, new RegExp(`: port ${other} is held by pid ${foreign.pid} \\(.*\\), not by billing \\(pid \\d+\\); stopped;`));
    stopForeign(foreign);
  });

  it("passes when a child of the start command listens, and a declared port nobody listens on is no failure", async () => {
    const [port, unused] = [await freePort(), await freePort()];
    const inst = billingInstance(port, {
      app: "forked",
      start: `node server.mjs ${port} forked & wait`,
      ports: [{ name: `http-${port}`, port, protocol: "http" }, { name: "idle", port: unused, protocol: "tcp" }],
    });
    const out = await deploy(h.ctx(), inst, { packageFile: EXAMPLE_PACKAGE });
    assert.match(out.message, /healthy after/);
    await undeploy(h.ctx(), "forked", fast);
  });
});

describe("health gate on a busybox host: a held port", { skip: hasBusybox ? false : "busybox not installed" }, () => {
  let h: LocalHost;
  let foreign: ChildProcess | undefined;
  let ctx: () => TaskContext;
  before(async () => {
    h = await localHost();
    const session = wrapSession(h.session, ["/usr/bin/env", `PATH=${busyboxBin(h.dir)}`]);
    ctx = () => ({ ...h.ctx(), session });
  });
  after(async () => {
    stopForeign(foreign);
    await undeploy(ctx(), "billing", fast).catch(() => {});
    await h.cleanup();
  });

  it("fails naming port and holder, and passes once the port is free", async () => {
    const port = await freePort();
    foreign = await foreignServer(h.dir, port);
    const e = await failure(deploy(ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE, ...fast }));
    assert.match(e.message, new RegExp(`: port ${port} is held by pid ${foreign.pid} \\(.*foreign\\.cjs ${port}\\), not by billing \\(pid \\d+\\); stopped;`));
    stopForeign(foreign);
    assert.ok(await eventually(async () => (await httpGet(port, "/")).status === 0, 5000));
    assert.match((await deploy(ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE })).message, /healthy after/);
  });
});

describe("health gate under a login that cannot see the holder", { skip: isRoot ? false : "needs root (to log in as nobody)" }, () => {
  let h: LocalHost;
  let foreign: ChildProcess | undefined;
  let ctx: () => TaskContext;
  before(async () => {
    h = await localHost();
    const session = nobodySession(h);
    ctx = () => ({ ...h.ctx(), session });
  });
  after(async () => {
    stopForeign(foreign);
    await undeploy(ctx(), "billing", fast).catch(() => {});
    await h.cleanup();
  });

  it("says it cannot tell who holds the port rather than pass", async () => {
    const port = await freePort();
    foreign = await foreignServer(h.dir, port); // runs as root: nobody cannot read its /proc/<pid>/fd
    const e = await failure(deploy(ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE, ...fast }));
    assert.match(e.message, new RegExp(`: port ${port} is held by a process of uid 0 that user nobody cannot inspect \\(/proc/<pid>/fd not readable\\), so it cannot be told apart from billing \\(pid \\d+\\); stopped;`));
  });
});
