// The GitOps loop end to end: `amphi serve --url file://<bare repo> --interval 1s` against three real sshd
// hosts in network namespaces. A pushed version change reaches every host within seconds and the commit's
// git note (in serve's mirror) says amphi/fleet/billing success; a pushed commit with invalid YAML gets
// `error` naming the file and line, and nothing is applied; its revert recovers.
//
// Every wait is for an event: serve's line for the cycle that ran on a revision (then its note, hosts' answers),
// with a generous deadline as a safety net only — a first cycle on 3 hosts took over 60 s beside CPU hogs.
// Speed is bench/loop's business.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { billingSpec, fleetEnvironment } from "../support/fleet-config.js";
import { EXAMPLE_PACKAGE, EXAMPLE_SHA, killUnder } from "../support/local-host.js";
import { commitAll, git, writeFiles } from "../support/git-repo.js";
import { eventually, serve, type Serving } from "../server/support.js";
import { mirrorDir } from "../../src/sources/remote.js";

const support = fleetSupported();
const skip = support.ok ? false : process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`;
const PORT = 9100;
/** Safety net of the waits for a cycle: each ends in seconds on a quiet machine. */
const CYCLE_WAIT = 300_000;

interface NoteStatus {
  context: string;
  state: string;
  description: string;
}

describe("amphi serve --url: push → applied on netns hosts, statuses as git notes", { skip }, () => {
  let fleet: TestFleet;
  let root = "";
  let bare = "";
  let work = "";
  let cwd = "";
  let mirror = "";
  let srv: Serving | null = null;
  let good = "";

  const app = (version: string): string => billingSpec({ port: PORT, path: "packages/billing-2.3.0.tar.gz", sha256: EXAMPLE_SHA, env: { APP_VERSION: version } });
  const environment = (): string => fleetEnvironment(fleet, { extra: "  status:\n    provider: gitnotes\n" });

  const push = async (message: string): Promise<string> => {
    const sha = await commitAll(work, message);
    await git(work, "push", "-q", "origin", "main");
    return sha;
  };
  const version = async (i: number): Promise<string> => {
    const r = await fleet.execOnHost(i, ["curl", "-s", "-m", "2", `http://127.0.0.1:${PORT}/`]);
    if (r.code !== 0) return `down (${r.code})`;
    try {
      return (JSON.parse(r.stdout) as { version: string }).version;
    } catch {
      return `bad answer ${r.stdout.slice(0, 80)}`;
    }
  };
  const versions = async (): Promise<string[]> => Promise.all(fleet.hosts.map((_, i) => version(i)));
  /** The statuses of `sha`'s note in serve's mirror, or undefined while it has none. */
  const note = async (sha: string): Promise<Map<string, NoteStatus> | undefined> => {
    const r = spawnSync("git", ["notes", "--ref", "amphi", "show", sha], { cwd: mirror, encoding: "utf8" });
    if (r.status !== 0) return undefined;
    const doc = JSON.parse(r.stdout) as { statuses: NoteStatus[] };
    return new Map(doc.statuses.map((s) => [s.context, s]));
  };
  /** serve's lines for the cycles that ran on `sha` (`<time> fleet <outcome> (<trigger>) rev <sha12> …`). */
  const cyclesOn = (sha: string): string[] => (srv?.log() ?? "").split("\n").filter((l) => l.includes(` rev ${sha.slice(0, 12)} `) && / fleet \S+ \(/.test(l));
  /** Waits until at least `n` cycles ran on `sha`; returns their lines. */
  const cycled = (sha: string, n = 1) =>
    eventually(async () => (cyclesOn(sha).length >= n ? cyclesOn(sha) : undefined), CYCLE_WAIT, `${n} cycle(s) on ${sha.slice(0, 12)}\n${srv?.log() ?? ""}`);
  const noteWith = (sha: string, context: string, state: string, ms = 30_000) =>
    eventually(async () => {
      const n = await note(sha);
      return n?.get(context)?.state === state ? n : undefined;
    }, ms, `${context} ${state} on ${sha.slice(0, 12)}\n${srv?.log() ?? ""}`);

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 3 });
    root = mkdtempSync(join(tmpdir(), `amphi-e2e-remote-${process.pid}-`));
    bare = join(root, "config.git");
    work = join(root, "work");
    cwd = join(root, "serve");
    mkdirSync(cwd);
    await git(root, "init", "-q", "--bare", "-b", "main", bare);
    await git(root, "clone", "-q", bare, work);
    await git(work, "checkout", "-q", "-B", "main");
    mkdirSync(join(work, "packages"), { recursive: true });
    copyFileSync(EXAMPLE_PACKAGE, join(work, "packages/billing-2.3.0.tar.gz"));
    writeFiles(work, { "apps/billing/spec.yaml": app("1.0.0"), "environments/fleet.yaml": environment() });
    good = await push("fleet: billing 1.0.0");
    const url = `file://${bare}`;
    const stateDir = join(cwd, "state");
    mirror = mirrorDir(stateDir, url);
    // The health gate waits for the app to answer; its timeout is a safety net (10 s failed beside CPU hogs).
    srv = await serve(["--url", url, "--env", "fleet", "--listen", "127.0.0.1:0", "--interval", "1s", "--state-dir", stateDir, "--health-timeout", "120"], cwd);
    // The first cycle deploys the first commit.
    assert.match((await cycled(good))[0]!, / fleet applied \(start\)/, srv.log());
    await noteWith(good, "amphi/fleet/billing", "success");
    assert.deepEqual(await versions(), ["1.0.0", "1.0.0", "1.0.0"]);
  });

  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0);
    if (fleet) {
      for (const h of fleet.hosts) killUnder(h.baseDir);
      await fleet.cleanup();
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("a pushed version change is on every host within seconds; the commit's note says success", async (t) => {
    writeFiles(work, { "apps/billing/spec.yaml": app("1.1.0") });
    const t0 = Date.now();
    good = await push("billing 1.1.0");
    assert.match((await cycled(good))[0]!, / fleet applied \(/, srv!.log());
    const applied = Date.now() - t0;
    assert.deepEqual(await versions(), ["1.1.0", "1.1.0", "1.1.0"]);
    const n = await noteWith(good, "amphi/fleet/billing", "success");
    assert.match(n.get("amphi/fleet/billing")!.description, /^3\/3 healthy/);
    // Reported, not asserted (a 20 s bound failed at 23.8 s under load); bench/loop measures commit → applied.
    t.diagnostic(`applied after ${applied} ms`);
  });

  it("a pushed commit with invalid YAML gets error naming the file and line; nothing is applied", async () => {
    // A mapping entry indented under a scalar: YAML cannot parse line 9.
    writeFiles(work, { "apps/billing/spec.yaml": app("9.9.9-broken").replace("    healthCheck:\n", "    healthCheck:\n   bad: [unclosed\n") });
    const bad = await push("billing: broken YAML");
    await cycled(bad);
    const n = await noteWith(bad, "amphi/fleet/billing", "error");
    for (const context of ["amphi/fleet", "amphi/fleet/billing"]) {
      const s = n.get(context);
      assert.equal(s?.state, "error", context);
      assert.match(s!.description, /^config error.*apps\/billing\/spec\.yaml:[1-9]\d*:[1-9]\d*: /, s!.description);
      assert.ok(s!.description.length <= 140);
    }
    // Two more interval cycles on the bad commit: still nothing applied.
    const lines = await cycled(bad, 3);
    assert.ok(lines.every((l) => / fleet error \(/.test(l)), lines.join("\n"));
    assert.deepEqual(await versions(), ["1.1.0", "1.1.0", "1.1.0"], "hosts still serve the previous version");
    assert.match(srv!.log(), /fleet error \(interval\) rev [0-9a-f]{12} .*config problem/);
  });

  it("a pushed revert recovers: success on the revert, hosts serve the good version", async () => {
    await git(work, "revert", "--no-edit", "HEAD");
    await git(work, "push", "-q", "origin", "main");
    const revert = await git(work, "rev-parse", "HEAD");
    await cycled(revert);
    const n = await noteWith(revert, "amphi/fleet/billing", "success");
    assert.notEqual(n.get("amphi/fleet")?.state, "error", "no environment-level error on the good commit");
    assert.deepEqual(await versions(), ["1.1.0", "1.1.0", "1.1.0"]);
  });
});
