// The host reader and handler run the host parts they are given (hosts/part.ts), each host through one
// session: a new resource kind on hosts is a new part, with no change to hosts/reader.ts or hosts/handler.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ActualResource, EnvironmentModel, TaskRecord } from "../../src/model/index.js";
import type { HostConnector, HostRef, HostSession } from "../../src/ports/hosts.js";
import type { TaskSpec } from "../../src/plan/tasks.js";
import { HostsReader } from "../../src/hosts/reader.js";
import { HostTaskHandler } from "../../src/hosts/handler.js";
import type { HostPart } from "../../src/hosts/part.js";
import { vmHost } from "../../src/runtime-io/vm.js";
import { fixtureEnvironment } from "../support/model-fixture.js";
import { billingInstance, localHost, localRef, type LocalHost } from "../support/local-host.js";

const env: EnvironmentModel = { ...fixtureEnvironment(), name: "staging" };

/** Counts the sessions opened per host and keeps them. */
function counting(inner: HostConnector): HostConnector & { opened: Map<string, HostSession[]> } {
  const opened = new Map<string, HostSession[]>();
  return {
    opened,
    open: async (ref, signal) => {
      const s = await inner.open(ref, signal);
      opened.set(ref.host, [...(opened.get(ref.host) ?? []), s]);
      return s;
    },
    closeAll: () => inner.closeAll(),
  };
}

/** A part that reads `<baseDir>/<name>` through the session it is handed (absent: nothing), records that
 * session, and has one task that writes the file. */
function filePart(name: string, seenBy: Map<string, HostSession>): HostPart {
  return {
    runtime: "vm",
    read: async (ctx) => {
      seenBy.set(`${name} ${ctx.ref.host}`, ctx.session);
      const r = await ctx.session.exec(["sh", "-c", `cat "$1/${name}" 2>/dev/null || true`, "sh", ctx.session.host.baseDir]);
      const text = r.stdout.trim();
      if (text === "fail") throw new Error(`${name} cannot be read`);
      if (!text) return [];
      const instance = { ...billingInstance(1, { app: text, host: ctx.ref.host }), version: name };
      return [{ runtime: "vm", key: `vm/${ctx.ref.group}/${ctx.ref.host}/${text}`, app: text, target: `${ctx.ref.group}/${ctx.ref.host}`, instance }];
    },
    tasks: {
      start: async (ctx, p, opts) => {
        const r = await ctx.session.exec(["sh", "-c", `echo "$2" > "$1/${name}"`, "sh", ctx.session.host.baseDir, p.app]);
        if (r.code !== 0) throw new Error(r.stderr);
        ctx.log(`${name}: wrote ${p.app}`);
        return { result: "changed", message: `${name} ${p.app} (health timeout ${opts.healthTimeoutMs} ms)` };
      },
    },
  };
}

describe("host parts", () => {
  let host: LocalHost;
  let refs: Map<string, HostRef>;
  before(async () => {
    host = await localHost();
    refs = new Map(["h1", "h2"].map((h) => [`local/${h}`, localRef(join(host.dir, h), h)]));
    for (const ref of refs.values()) mkdirSync(ref.baseDir, { recursive: true });
  });
  after(() => host.cleanup());

  const keys = (rs: ActualResource[]) => rs.map((r) => `${r.key} ${r.runtime === "vm" ? r.instance.version : ""}`).sort();

  it("each host is opened once; every part reads through that one session, its resources after the part before", async () => {
    writeFileSync(join(refs.get("local/h1")!.baseDir, "a"), "zeta\n");
    writeFileSync(join(refs.get("local/h1")!.baseDir, "b"), "beta\n");
    writeFileSync(join(refs.get("local/h2")!.baseDir, "b"), "gamma\n");
    const connector = counting(host.connector);
    const seenBy = new Map<string, HostSession>();
    const reader = new HostsReader({ connector, hosts: refs, parts: [vmHost, filePart("a", seenBy), filePart("b", seenBy)], now: () => "t", parallel: 2 });
    const read = await reader.read(env);
    assert.deepEqual(read.unreachable, []);
    // hosts are read at once (in any order); on one host, the parts' resources come in the parts' order
    const onHost = (h: string) => read.resources.filter((r) => r.target === `local/${h}`).map((r) => r.key);
    assert.deepEqual(onHost("h1"), ["vm/local/h1/zeta", "vm/local/h1/beta"]);
    assert.deepEqual(onHost("h2"), ["vm/local/h2/gamma"]);
    assert.deepEqual([...connector.opened.entries()].map(([h, ss]) => [h, ss.length]).sort(), [["h1", 1], ["h2", 1]]);
    for (const h of ["h1", "h2"]) for (const part of ["a", "b"]) assert.equal(seenBy.get(`${part} ${h}`), connector.opened.get(h)![0], `${part} on ${h}`);
  });

  it("a host one part cannot read is unreachable under the first part's runtime, and none of its resources show", async () => {
    writeFileSync(join(refs.get("local/h2")!.baseDir, "a"), "fail\n");
    const reader = new HostsReader({ connector: host.connector, hosts: refs, parts: [filePart("b", new Map()), filePart("a", new Map())], now: () => "t", parallel: 1 });
    const read = await reader.read(env);
    assert.deepEqual(read.unreachable, [{ runtime: "vm", target: "local/h2", reason: "a cannot be read" }]);
    assert.deepEqual(keys(read.resources), ["vm/local/h1/beta b", "vm/local/h1/zeta a"]);
  });

  it("no parts: nothing is read and no host is opened", async () => {
    const connector = counting(host.connector);
    assert.deepEqual(await new HostsReader({ connector, hosts: refs, parts: [], now: () => "t", parallel: 1 }).read(env), { resources: [], unreachable: [] });
    assert.equal(connector.opened.size, 0);
  });

  it("the handler runs a task with the part that has its kind, through the host's session; a kind no part has is refused naming the host", async () => {
    const handler = new HostTaskHandler({
      connector: host.connector, hosts: refs, parts: [filePart("c", new Map())], env: "staging", now: () => "t", healthTimeoutMs: 1234,
      packages: { file: async () => { throw new Error("no packages here"); } },
    });
    const task = (kind: "start" | "undeploy"): TaskRecord & { spec: TaskSpec } => {
      const spec: TaskSpec = { kind, target: "local/h2", app: "delta", wave: 0, keys: [], payload: { kind, app: "delta" } };
      return { id: "t1", runId: "r1", kind, target: spec.target, app: spec.app, wave: 0, keys: [], state: "queued", result: null, message: "", createdAt: "t", startedAt: null, endedAt: null, output: [], spec };
    };
    const lines: string[] = [];
    const ctx = { signal: new AbortController().signal, log: (l: string) => lines.push(l) };
    assert.deepEqual(await handler.run(task("start"), ctx), { result: "changed", message: "c delta (health timeout 1234 ms)" });
    assert.equal(readFileSync(join(refs.get("local/h2")!.baseDir, "c"), "utf8"), "delta\n");
    assert.deepEqual(lines, ["c: wrote delta"]);
    await assert.rejects(handler.run(task("undeploy"), ctx), { name: "TaskError", message: "local/h2: undeploy is not a host task" });
  });
});
