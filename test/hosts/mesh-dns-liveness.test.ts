// mesh-dns liveness as drift: a capture recorded with `dns` whose mesh-dns does not run reads as a capture
// resource observed with `meshDns: "stopped"` (and the record unchanged: no text is written into the fragment),
// which the diff makes a field change, so the plan proposes the capture task (which re-runs ensureMeshDns). The reader's
// mapping is unit-tested; the liveness check itself runs through LocalConnector against a stand-in mesh.dns
// "app" started by the real control script and supervisor (no iptables, no node bundle needed).
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { meshBase, meshDnsRunning } from "../../src/hosts/mesh-dns.js";
import { EXEC_SH, scriptText, SUPERVISE_SH } from "../../src/hosts/scripts.js";
import { compareResource } from "../../src/diff/resources.js";
import type { CaptureRules, Resource } from "../../src/model/index.js";
import { captureResource } from "../../src/runtime-io/capture.js";
import { localHost, processesUnder, type LocalHost } from "../support/local-host.js";

const TARGET = "local/localhost";
const KEY = "capture/local/localhost";
const rules = (dns: boolean): CaptureRules => ({
  hostGroup: "local",
  host: "localhost",
  inbound: [{ app: "billing", ports: [8080] }],
  fragment: "*nat\n:AMPHI_OUT - [0:0]\nCOMMIT\n",
  hooks: [{ table: "nat", chain: "OUTPUT", rule: "-j AMPHI_OUT" }],
  ...(dns ? { dns: { listen: "127.0.0.1", port: 8600, domain: "mesh.", serviceIP: "10.255.0.1", upstreams: [], consul: null, user: 1999 } } : {}),
});
const desired = (capture: CaptureRules): Resource => ({ runtime: "capture", key: KEY, app: null, target: TARGET, capture });
const changes = (capture: CaptureRules, live: "present" | "drifted", dnsRunning: boolean) => {
  const actual = captureResource(TARGET, KEY, capture, live, dnsRunning);
  assert.ok(actual);
  return compareResource(desired(capture), actual, []).map((c) => c.path);
};

describe("actual capture resource: mesh-dns liveness", () => {
  it("rules present and mesh-dns running: in sync", () => {
    assert.deepEqual(changes(rules(true), "present", true), []);
  });

  it("rules present, mesh-dns not running: observed meshDns stopped, a field change (a capture update is planned)", () => {
    const actual = captureResource(TARGET, KEY, rules(true), "present", false);
    assert.ok(actual && actual.runtime === "capture");
    assert.deepEqual(actual.capture, rules(true), "the record is what the host recorded, no marker in it");
    assert.deepEqual(actual.observed, { capture: "present", meshDns: "stopped" });
    const diff = compareResource(desired(rules(true)), actual, []);
    assert.deepEqual(diff, [{ path: "meshDns", from: "stopped", to: "running" }]);
  });

  it("rules drifted and mesh-dns down: both observed, both field changes", () => {
    const actual = captureResource(TARGET, KEY, rules(true), "drifted", false);
    assert.ok(actual && actual.runtime === "capture");
    assert.deepEqual(actual.capture, rules(true));
    assert.deepEqual(actual.observed, { capture: "drifted", meshDns: "stopped" });
    assert.deepEqual(changes(rules(true), "drifted", false), ["capture", "meshDns"]);
  });

  it("rules drifted, mesh-dns running: the capture field alone", () => {
    assert.deepEqual(changes(rules(true), "drifted", true), ["capture"]);
  });

  it("rules without dns (older records): mesh-dns is not looked at", () => {
    assert.deepEqual(changes(rules(false), "present", false), []);
  });

  it("rules missing: no resource (a create restores rules and mesh-dns)", () => {
    assert.equal(captureResource(TARGET, KEY, rules(true), "missing", false), null);
  });
});

describe("meshDnsRunning through LocalConnector", () => {
  let h: LocalHost;
  before(async () => {
    h = await localHost();
  });
  after(async () => {
    await control("stop").catch(() => {});
    await h.cleanup();
  });
  const control = (action: "start" | "stop") =>
    h.session.exec(["sh", "-c", scriptText("control"), "amphi", meshBase(h.baseDir), "mesh.dns", "staging", action, "1", "", SUPERVISE_SH, EXEC_SH]);

  it("false on a host without mesh-dns", async () => {
    assert.equal(await meshDnsRunning(h.ctx()), false);
  });

  it("true while its supervised process runs, false once it is stopped", async () => {
    // a stand-in for apps/mesh.dns/current/ (the real one runs node mesh-dns.mjs as the proxy uid)
    const rel = join(meshBase(h.baseDir), "apps/mesh.dns/releases/r1");
    mkdirSync(join(rel, ".amphi"), { recursive: true });
    writeFileSync(join(rel, ".amphi/env"), "");
    writeFileSync(join(rel, ".amphi/start"), "exec sleep 60\n");
    writeFileSync(join(rel, ".amphi/user"), "");
    symlinkSync("releases/r1", join(meshBase(h.baseDir), "apps/mesh.dns/current"));
    const started = await control("start");
    assert.equal(started.code, 0, started.stderr);
    assert.equal(await meshDnsRunning(h.ctx()), true);
    const stopped = await control("stop");
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(await meshDnsRunning(h.ctx()), false);
    assert.deepEqual(processesUnder(h.baseDir), []);
  });
});
