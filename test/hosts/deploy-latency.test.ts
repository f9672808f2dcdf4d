// What a deploy costs in round trips and waits (issue 14): the commands a deploy sends to its host, and how the
// host scripts poll (a stop, a start and the health gate ask again after 10-20 ms first, not after a fixed 100-200
// ms). Counted, never timed: the counts do not depend on the machine's load.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deploy, undeploy } from "../../src/hosts/tasks.js";
import { HostsReader } from "../../src/hosts/reader.js";
import { hostParts } from "../../src/runtime-io/index.js";
import type { EnvironmentModel } from "../../src/model/index.js";
import type { HostConnector, HostRef } from "../../src/ports/hosts.js";
import type { HostSession } from "../../src/ports/hosts.js";
import type { TaskContext } from "../../src/hosts/task.js";
import { billingInstance, buildPackage, EXAMPLE_PACKAGE, freePort, localHost, wrapSession, type LocalHost } from "../support/local-host.js";

/** The name of a command a task sent: its host script (`control activate`), or its first word. */
function commandName(argv: string[]): string {
  if (argv[0] !== "sh" || argv[1] !== "-c") return argv[0] ?? "";
  const text = argv[2] ?? "";
  if (text.startsWith("m=--amphi-state--")) return "state read";
  if (text.startsWith("umask 077")) return "state write";
  if (text.startsWith("t=")) return "put";
  const name = /\n# ([a-z-]+)\.sh /.exec(text)?.[1] ?? "?";
  return name === "control" ? `control ${argv[7]}` : name;
}

/** A context whose session records the name of every command (and upload) it runs. */
function recording(ctx: TaskContext, names: string[]): TaskContext {
  const s = ctx.session;
  const session: HostSession = {
    host: s.host,
    exec: (argv, opts) => (names.push(commandName(argv)), s.exec(argv, opts)),
    putFile: (l, r, o) => (names.push("putFile"), s.putFile(l, r, o)),
    close: () => s.close(),
  };
  return { ...ctx, session };
}

describe("deploy round trips", () => {
  let h: LocalHost;
  let port: number;
  before(async () => {
    h = await localHost();
    port = await freePort();
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("a first deploy, a version change and a deploy that changes nothing send 8, 7 and 1 commands", async () => {
    const first: string[] = [];
    await deploy(recording(h.ctx(), first), billingInstance(port), { packageFile: EXAMPLE_PACKAGE });
    // state.json comes with the facts; the intent is recorded by the activate script and the record by the prune
    assert.deepEqual(first, ["inspect", "mkdir", "putFile", "receive", "install", "control activate", "health", "prune"]);

    const v2 = buildPackage(h.dir, "billing-2.4.0", { VERSION: "2.4.0\n" });
    const change: string[] = [];
    const out = await deploy(recording(h.ctx(), change), billingInstance(port, { version: "2.4.0", sha256: v2.sha256 }), { packageFile: v2.path });
    assert.match(out.message, /deployed 2\.4\.0-.*; previous release 2\.3\.0-5d3785d5$/);
    // the packages directory exists now: no mkdir
    assert.deepEqual(change, ["inspect", "putFile", "receive", "install", "control activate", "health", "prune"]);

    const again: string[] = [];
    assert.equal((await deploy(recording(h.ctx(), again), billingInstance(port, { version: "2.4.0", sha256: v2.sha256 }), { packageFile: v2.path })).result, "unchanged");
    assert.deepEqual(again, ["inspect"]);
  });

  it("reading a host for a plan is one probe, with or without a VM sidecar (the sidecar's own probe rides in it where its directory is)", async () => {
    const names: string[] = [];
    const connector: HostConnector = {
      open: async () => recording(h.ctx(), names).session,
      closeAll: async () => {},
    };
    const hosts = new Map<string, HostRef>([["localhost", h.session.host]]);
    const reader = new HostsReader({ connector, hosts, parts: hostParts(), now: () => "2026-01-01T00:00:00Z", parallel: 1 });
    const read = await reader.read({ name: "staging" } as EnvironmentModel);
    assert.deepEqual(read.unreachable, []);
    assert.ok(read.resources.some((r) => r.app === "billing"), "the app is read");
    assert.deepEqual(names, ["probe"]);
    mkdirSync(join(h.baseDir, "sidecar"));
    names.length = 0;
    await reader.read({ name: "staging" } as EnvironmentModel);
    assert.deepEqual(names, ["probe"], "with a sidecar directory its probe is part of the host's");
  });
});

/** The example's server (examples/package-src/hello/server.mjs), to be started late. */
const SERVER = readFileSync(new URL("../../examples/package-src/hello/server.mjs", import.meta.url), "utf8");

/** Tools the polling loops of the stop, the start and the health gate used to run on every pass (and the shell
 * the activate script started for its state write). */
const TOOLS = ["date", "tr", "grep", "sh"];

describe("host script polling", () => {
  let h: LocalHost;
  let port: number;
  let log: string;
  let tools: string;
  let shimmed: (ctx: TaskContext) => TaskContext;
  before(async () => {
    h = await localHost();
    port = await freePort();
    // A `sleep` first on PATH that logs who asked for how long (the host script by its name), then sleeps; and
    // `date`, `tr`, `grep` and `sh` that log who ran them to tools.log, then run the real one.
    const bin = join(h.dir, "shim-bin");
    log = join(h.dir, "sleeps.log");
    tools = join(h.dir, "tools.log");
    mkdirSync(bin);
    const who = `who=other\nif /usr/bin/tr '\\0' '\\n' </proc/$PPID/cmdline 2>/dev/null | /usr/bin/grep -q '^# health.sh '; then who=health\nelif /usr/bin/tr '\\0' '\\n' </proc/$PPID/cmdline 2>/dev/null | /usr/bin/grep -q '^# control.sh '; then who=control; fi\n`;
    writeFileSync(join(bin, "sleep"), `#!/bin/sh\n${who}echo "$who $1" >>${log}\nexec /bin/sleep "$@"\n`);
    chmodSync(join(bin, "sleep"), 0o755);
    for (const tool of [...TOOLS, "curl"]) {
      writeFileSync(join(bin, tool), `#!/bin/sh\n${who}echo "$who ${tool}" >>${tools}\nexec /usr/bin/${tool} "$@"\n`);
      chmodSync(join(bin, tool), 0o755);
    }
    shimmed = (ctx) => ({ ...ctx, session: wrapSession(ctx.session, ["env", `PATH=${bin}:${process.env.PATH}`]) });
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  /** The pauses the control and health scripts took, in order. */
  const pauses = (who: string): string[] =>
    readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l.startsWith(`${who} `))
      .map((l) => l.slice(who.length + 1));

  it("a version change waits for the old process, the new one and its health check 10-20 ms first, then longer", async () => {
    await deploy(shimmed(h.ctx()), billingInstance(port), { packageFile: EXAMPLE_PACKAGE });
    const v2 = buildPackage(h.dir, "billing-2.4.0", { VERSION: "2.4.0\n" });
    writeFileSync(log, "");
    await deploy(shimmed(h.ctx()), billingInstance(port, { version: "2.4.0", sha256: v2.sha256 }), { packageFile: v2.path });
    const control = pauses("control");
    const health = pauses("health");
    // The stop (waiting for the old supervisor to go) and the start (waiting for the new app's pid) each poll
    // from 10 ms up: every run of pauses starts at 0.01 and grows, never beyond a tenth of a second.
    assert.ok(control.length > 0, "the activate script waited at least once (for the old process to go)");
    const ladder = ["0.01", "0.02", "0.05", "0.1"];
    let step = 0;
    for (const p of control) {
      if (p === "0.01") step = 0;
      assert.equal(p, ladder[Math.min(step, 3)], `control pauses ${control.join(" ")}`);
      step++;
    }
    // The health gate asks at once, then after 20, 50 and 100 ms, then every 0.2 s (node usually takes longer
    // than a first poll to listen; when it does not, the gate passed without a pause).
    assert.deepEqual(health, ["0.02", "0.05", "0.1", ...Array(Math.max(0, health.length - 3)).fill("0.2")].slice(0, health.length), `health pauses ${health.join(" ")}`);
  });

  it("a version change's control and health scripts start no date, tr, grep or sh: the shell's read takes /proc/uptime and the pids, a subshell the state write", async () => {
    const v3 = buildPackage(h.dir, "billing-2.5.0", { VERSION: "2.5.0\n" });
    writeFileSync(log, "");
    writeFileSync(tools, "");
    const out = await deploy(shimmed(h.ctx()), billingInstance(port, { version: "2.5.0", sha256: v3.sha256 }), { packageFile: v3.path });
    assert.equal(out.result, "changed", out.message);
    // the waits did happen (so their loops ran), and neither script started one of the tools in them
    assert.ok(pauses("control").length > 0, "the activate script waited at least once");
    const started = readFileSync(tools, "utf8").split("\n").filter((l) => (l.startsWith("control ") || l.startsWith("health ")) && l !== "health curl");
    assert.deepEqual(started, [], `tools the control and health scripts started:\n${started.join("\n")}`);
  });

  it("the health gate starts curl only once something listens on the health port: a slow starter is asked through /proc/net/tcp until then", async () => {
    // billing as a server that binds its port 1.5 s after it starts
    const slow = buildPackage(h.dir, "billing-2.6.0", { VERSION: "2.6.0\n", "server.mjs": `setTimeout(() => import("./app.mjs"), 1500);\n`, "app.mjs": SERVER });
    writeFileSync(log, "");
    writeFileSync(tools, "");
    const out = await deploy(shimmed(h.ctx()), billingInstance(port, { version: "2.6.0", sha256: slow.sha256 }), { packageFile: slow.path });
    assert.equal(out.result, "changed", out.message);
    const health = pauses("health");
    const curls = readFileSync(tools, "utf8").split("\n").filter((l) => l === "health curl").length;
    // 1.5 s of polls (20, 50, 100 ms, then every 0.2 s: about nine on a quiet machine, fewer beside busy loops, and
    // at least three however loaded), and curl for the answer (twice when the port was bound just before the server
    // answered) and every fifth pass (a port published by DNAT has no listener); the old gate ran it every pass
    const polls = health.length + 1;
    assert.ok(polls >= 3, `the gate polled ${polls} times: ${health.join(" ")}`);
    assert.ok(curls >= 1 && curls < polls && curls <= 2 + Math.floor(polls / 5), `health ran curl ${curls} times over ${polls} polls`);
  });
});
