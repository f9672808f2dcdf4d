// state.json on a host: durable writes (a cut-off write never replaces the record, the previous good copy
// stays as state.json.bak), and a zero-byte or corrupt state.json recovered from that copy with a warning,
// never read as an empty host (after which a plan re-creates every running app).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deploy, probe, undeploy } from "../../src/hosts/tasks.js";
import { readHostState, writeHostState } from "../../src/hosts/state-file.js";
import { billingInstance, EXAMPLE_PACKAGE, freePort, localHost, type LocalHost } from "../support/local-host.js";

const V1 = "2.3.0-5d3785d5";

describe("host state file", () => {
  let h: LocalHost;
  let port: number;
  const file = () => join(h.baseDir, "state.json");
  const read = (name = "state.json") => readFileSync(join(h.baseDir, name), "utf8");

  before(async () => {
    h = await localHost();
    port = await freePort();
    await deploy(h.ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE, healthTimeoutMs: 20_000, stopGraceMs: 2000 });
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("every write keeps the previous good record as state.json.bak", async () => {
    const before = read();
    const state = await readHostState(h.session, "staging", "now");
    await writeHostState(h.session, { ...state, updatedAt: "2026-02-02T00:00:00.000Z" });
    assert.equal(read("state.json.bak"), before);
    assert.match(read(), /"updatedAt": "2026-02-02T00:00:00.000Z"/);
  });

  it("a state.json that does not start with { is not kept as state.json.bak, even when it ends with }", async () => {
    const good = read();
    const state = await readHostState(h.session, "staging", "now");
    await writeHostState(h.session, state);
    const bak = read("state.json.bak");
    writeFileSync(file(), ` ${good}`);
    await writeHostState(h.session, state);
    assert.equal(read("state.json.bak"), bak);
    writeFileSync(file(), `x\n${good}`);
    await writeHostState(h.session, state);
    assert.equal(read("state.json.bak"), bak);
    writeFileSync(file(), good);
    await writeHostState(h.session, state);
    assert.equal(read("state.json.bak"), good, "a whole one still is");
  });

  it("a write whose text arrives cut short leaves state.json as it was", async () => {
    const before = read();
    const state = await readHostState(h.session, "staging", "now");
    const cut = { ...h.session, exec: (argv: string[], opts?: { stdin?: string }) => h.session.exec(argv, { ...opts, stdin: opts?.stdin?.slice(0, 100) }) };
    await assert.rejects(writeHostState(cut, { ...state, updatedAt: "2026-03-03T00:00:00.000Z" }), /^TaskError: localhost: cannot write .*state\.json: .*state\.json not replaced: got 100 of \d+ bytes$/);
    assert.equal(read(), before);
  });

  it("a zero-byte state.json is recovered from state.json.bak with a warning naming host and file; the app is not lost", async () => {
    writeFileSync(file(), "");
    const warnings: string[] = [];
    const state = await readHostState(h.session, "staging", "now", (l) => warnings.push(l));
    assert.equal(state.apps.billing?.release, V1);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, new RegExp(`^localhost: ${file()} is empty \\(0 bytes\\); using the previous copy ${file()}\\.bak \\(written .+\\)`));
    // the probe (live actual state) sees the app too, and says so in its log
    h.logs.length = 0;
    const seen = await probe(h.ctx());
    assert.equal(seen.state.apps.billing?.release, V1);
    assert.equal(seen.processes.billing, "running");
    assert.ok(h.logs.some((l) => l.includes(`${file()} is empty (0 bytes); using the previous copy`)), h.logs.join("\n"));
    // the next write puts a good state.json back and keeps the good backup (not the empty file)
    const bak = read("state.json.bak");
    await writeHostState(h.session, state);
    assert.equal(read("state.json.bak"), bak);
    assert.equal(JSON.parse(read()).apps.billing.release, V1);
  });

  it("a truncated state.json is recovered the same way", async () => {
    const text = read();
    writeFileSync(file(), text.slice(0, text.length / 2));
    const warnings: string[] = [];
    const state = await readHostState(h.session, "staging", "now", (l) => warnings.push(l));
    assert.equal(state.apps.billing?.release, V1);
    assert.match(warnings[0] ?? "", /state\.json is not valid JSON \(.+\); using the previous copy/);
  });

  it("no good copy left: an error naming the host and both files, never an empty host", async () => {
    const good = read();
    writeFileSync(file(), "{ not json");
    writeFileSync(`${file()}.bak`, "");
    const want = new RegExp(`^TaskError: localhost: ${file()} is not valid JSON \\(.+\\), and ${file()}\\.bak is empty \\(0 bytes\\); amphi will not guess`);
    await assert.rejects(readHostState(h.session, "staging", "now"), want);
    await assert.rejects(probe(h.ctx()), want);
    // a deploy refuses too, and leaves both files alone
    await assert.rejects(deploy(h.ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE }), want);
    assert.equal(read(), "{ not json");
    writeFileSync(file(), good);
  });
});
