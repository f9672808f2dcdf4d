// The pure capture module (src/diff/iptables.ts) over REAL iptables-save output: the fixtures in
// fixtures/iptables-save/ were made by the real iptables in a throwaway network namespace (the cases below
// say how); the first part parses the committed files, the second (root, iptables, `ip netns`) makes them
// again, checks the live output parses to the same tables, and repairs the drifted case with the real
// capture-apply.sh. UPDATE_GOLDEN=1 rewrites the fixtures from the live run. Without root it is skipped,
// except under CI=true, where it must run.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { findExecutable } from "../../src/adapters/process/spawn.js";
import { captureDrift, captureState, inSync, normalizeArgs, parseIptables, restoreError, restoreInput, restoreWaits } from "../../src/diff/iptables.js";
import { SCRIPTS } from "../../src/hosts/scripts.js";
import type { CaptureRules, HostInstance, IptablesRestore } from "../../src/model/index.js";
import { hostCapture } from "../../src/runtimes/capture/render.js";
import { formatRestore } from "../../src/runtimes/capture/iptables.js";
import { assertGolden } from "../support/golden.js";
import { fixtureEnvironment } from "../support/model-fixture.js";
import { spawnSync } from "../support/spawn.js";

const DIR = fileURLToPath(new URL("./fixtures/iptables-save/", import.meta.url));
const fixture = (name: string): string => readFileSync(`${DIR}${name}.txt`, "utf8");

function instance(app: string, ports: number[]): HostInstance {
  return {
    app, env: "prod", hostGroup: "legacy", host: "vm-1", address: "10.20.0.11", baseDir: "/opt/amphi", version: "1.0.0",
    package: { path: `packages/${app}-1.0.0.tar.gz` }, sha256: "0".repeat(64), start: "true", user: null, environment: {},
    secretEnv: [], ports: ports.map((port) => ({ name: `http-${port}`, port, protocol: "http" as const })), health: null,
    services: [app], specHash: "0".repeat(64), registrations: [],
  };
}

const RULES: CaptureRules = hostCapture(fixtureEnvironment(), "legacy", "vm-1", [instance("web", [8091]), instance("billing", [9100, 9200])]);

/** The hooks as `iptables` commands (`-I` at the top, as capture-apply.sh inserts them). */
const HOOKS = RULES.hooks.map((h) => `iptables -w -t ${h.table} -I ${h.chain} 1 ${h.rule}`).join("\n");
const CAPTURE = `iptables-restore --noflush <<'EOF'\n${RULES.fragment}EOF\n${HOOKS}\n`;

/** Each fixture: the shell (run as root in a fresh network namespace) that makes the rules it shows. */
const CASES: Record<string, string> = {
  // nothing of amphi's; the tables as a fresh namespace has them once iptables-save has looked
  empty: "",
  // the rendered fragment restored and the hooks inserted: what applyCapture leaves
  capture: CAPTURE,
  // another tool's rules around amphi's (Docker-like nat, a raw notrack, a comment with spaces and quotes)
  "capture-foreign": [
    `iptables -w -t filter -A INPUT -p tcp --dport 22 -m comment --comment 'ssh "admin" access' -j ACCEPT`,
    "iptables -w -t nat -N DOCKER",
    "iptables -w -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    "iptables -w -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
    "iptables -w -t nat -A DOCKER -i docker0 -j RETURN",
    "iptables -w -t nat -A DOCKER ! -i docker0 -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
    "iptables -w -t raw -A PREROUTING -p udp --dport 123 -j NOTRACK",
    CAPTURE,
  ].join("\n"),
  // edited by hand: a rule changed, a stale AMPHI chain, a hook twice, one hook gone
  "capture-drifted": [
    CAPTURE,
    "iptables -w -t nat -R AMPHI_OUTPUT 1 -m owner --uid-owner 1000 -j RETURN",
    "iptables -w -t nat -N AMPHI_OLD",
    "iptables -w -t nat -A AMPHI_OLD -j RETURN",
    "iptables -w -t nat -A OUTPUT -j AMPHI_OUTPUT",
    "iptables -w -t raw -D OUTPUT -j AMPHI_RAW_OUTPUT",
  ].join("\n"),
  // the same as `capture` through the legacy (xtables) binaries, whose iptables-save writes otherwise
  "capture-legacy": legacy(CAPTURE),
};

/** A setup run through iptables-legacy instead of the nf_tables binaries. */
function legacy(setup: string): string {
  return setup.replace(/\biptables-restore\b/g, "iptables-legacy-restore").replace(/\biptables -w\b/g, "iptables-legacy -w");
}

/** What capture-inspect.sh dumps, plus the filter table (which the parser must skip). */
const dump = (name: string): string => {
  const save = name.endsWith("-legacy") ? "iptables-legacy-save" : "iptables-save";
  return `for t in filter nat raw; do ${save} -t "$t" || exit 1; done`;
};
const DUMP = dump("capture");

const tablesOf = (doc: IptablesRestore) => doc.tables;

// ---------------------------------------------------------------------------------------------
// The committed fixtures

describe("iptables-save fixtures (real output, parsed)", () => {
  it("has a fixture for every case", () => {
    for (const name of Object.keys(CASES)) assert.ok(existsSync(`${DIR}${name}.txt`), `${name}.txt missing: run this test as root with UPDATE_GOLDEN=1`);
  });

  it("parses the nat and raw tables into chains and rules, skipping filter", () => {
    const doc = parseIptables(fixture("capture"), "capture.txt");
    assert.deepEqual(doc.tables.map((t) => t.name), ["nat", "raw"]);
    assert.match(doc.comments[0] ?? "", /^# Generated by iptables-save v/);
    const raw = doc.tables[1]!;
    assert.deepEqual(raw.chains, [
      { name: "PREROUTING", policy: "ACCEPT" },
      { name: "OUTPUT", policy: "ACCEPT" },
      { name: "AMPHI_RAW_OUTPUT", policy: "-" },
    ]);
    assert.deepEqual(raw.ops, [
      { op: "-A", chain: "OUTPUT", args: ["-j", "AMPHI_RAW_OUTPUT"] },
      { op: "-A", chain: "AMPHI_RAW_OUTPUT", args: ["-p", "udp", "-m", "udp", "--sport", "15053", "-m", "owner", "--uid-owner", "1337", "-j", "CT", "--zone", "2"] },
      { op: "-A", chain: "AMPHI_RAW_OUTPUT", args: ["-p", "udp", "-m", "udp", "--dport", "53", "-m", "owner", "!", "--uid-owner", "1337", "-j", "CT", "--zone", "2"] },
    ]);
    const comment = doc.tables[0]!.ops.find((o) => o.args.includes("amphi:billing"));
    assert.ok(comment, "the inbound rule keeps its comment as one token, quotes removed");
  });

  it("reads a comment with spaces and escaped quotes as one token", () => {
    const filter = parseIptables(fixture("capture-foreign").replace("*filter", "*nat"), "foreign");
    const ssh = filter.tables[0]!.ops.find((o) => o.args.includes("--comment"));
    assert.ok(ssh);
    assert.equal(ssh.args[ssh.args.indexOf("--comment") + 1], 'ssh "admin" access');
  });

  it("the same rule rendered and as iptables-save prints it normalises the same", () => {
    const rendered = parseIptables(RULES.fragment, "fragment").tables.flatMap((t) => t.ops);
    const saved = parseIptables(fixture("capture"), "capture.txt").tables.flatMap((t) => t.ops.filter((o) => o.chain.startsWith("AMPHI_")));
    // iptables-save lists the chains by name; within a chain the order is the rules' order
    const byChain = (ops: typeof rendered) => ops.map((o) => [o.chain, normalizeArgs(o.args)]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
    assert.deepEqual(byChain(saved), byChain(rendered));
    const implicit = (ops: typeof rendered) => ops.filter((o) => o.args.join(" ").includes("-p tcp -m tcp")).length;
    assert.ok(implicit(saved) > 0 && implicit(rendered) === 0, "iptables-save really writes them otherwise (-m tcp)");
  });

  it("states: empty is missing, capture and capture-foreign present, capture-drifted drifted", () => {
    const state = (name: string) => captureState(parseIptables(fixture(name), name), RULES);
    assert.equal(state("empty"), "missing");
    assert.equal(state("capture"), "present");
    assert.equal(state("capture-foreign"), "present");
    assert.equal(state("capture-legacy"), "present");
    assert.equal(state("capture-drifted"), "drifted");
    assert.equal(captureState(parseIptables(fixture("capture"), "capture"), null), "drifted", "rules there while none are recorded");
  });

  it("names every difference of the drifted case, and the restore input that repairs it (golden)", () => {
    const drift = captureDrift(parseIptables(fixture("capture-drifted"), "capture-drifted"), RULES);
    assert.deepEqual(drift.chains, ["AMPHI_OUTPUT"]);
    assert.deepEqual(drift.stale, [{ table: "nat", chain: "AMPHI_OLD" }]);
    assert.deepEqual(drift.missingHooks, [{ table: "raw", chain: "OUTPUT", rule: "-j AMPHI_RAW_OUTPUT" }]);
    assert.deepEqual(drift.extraHooks, [{ table: "nat", op: { op: "-A", chain: "OUTPUT", args: ["-j", "AMPHI_OUTPUT"] } }]);
    assertGolden(`${DIR}capture-drifted.restore`, restoreInput(RULES, drift));
  });

  it("removal of everything: every hook deleted, every AMPHI chain flushed then deleted (golden)", () => {
    const drift = captureDrift(parseIptables(fixture("capture-foreign"), "capture-foreign"), null);
    assert.equal(inSync(drift), false);
    assertGolden(`${DIR}capture-foreign.remove`, restoreInput(null, drift));
  });

  it("the rendered fragment parses and formats back byte for byte", () => {
    assert.equal(formatRestore(parseIptables(RULES.fragment, "fragment")), RULES.fragment);
  });

  it("reads iptables-restore's version (for --wait) and its error lines", () => {
    assert.equal(restoreWaits("iptables-restore v1.8.9 (nf_tables)"), true);
    assert.equal(restoreWaits("iptables-restore v1.6.2"), true);
    assert.equal(restoreWaits("iptables-restore v1.6.1"), false);
    assert.equal(restoreWaits("iptables-restore v1.4.21"), false);
    assert.equal(restoreWaits("something else"), true, "unknown: assume a current iptables");
    assert.equal(restoreError("iptables-restore v1.8.9 (nf_tables): line 3 failed\n"), "iptables-restore v1.8.9 (nf_tables): line 3 failed");
    assert.equal(restoreError("iptables-restore: Bad rule\nError occurred at line: 12\n"), "iptables-restore: Bad rule (input line 12)");
  });

  it("names the input and the line it cannot read", () => {
    assert.throws(() => parseIptables("*nat\n-Z OUTPUT\nCOMMIT\n", "iptables-save"), { message: "iptables-save: unexpected line: -Z OUTPUT" });
    assert.throws(() => parseIptables("-A OUTPUT -j X\n", "capture fragment"), { message: "capture fragment: rule outside a table: -A OUTPUT -j X" });
  });
});

// ---------------------------------------------------------------------------------------------
// The fixtures made again by the real iptables

const SBIN_PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;
const childEnv = { ...process.env, PATH: SBIN_PATH, LC_ALL: "C" };

function liveSupport(): string | null {
  if (process.platform !== "linux") return `network namespaces need Linux, not ${process.platform}`;
  if (process.getuid?.() !== 0) return "iptables in a network namespace needs root";
  for (const bin of ["ip", "iptables", "iptables-save", "iptables-restore"]) {
    if (findExecutable(bin, childEnv) === null) return `${bin} missing (apt-get install iptables iproute2)`;
  }
  return null;
}

const unsupported = liveSupport();
// In CI (root, packages from scripts/install-test-deps.sh) these tests must run: fail, don't skip.
const skip = unsupported === null ? false : process.env.CI === "true" ? false : unsupported;

describe("iptables-save fixtures made again in a network namespace (real iptables)", { skip }, () => {
  const made: string[] = [];
  const netns = (): string => {
    const name = `amphi-golden-${process.pid}-${randomBytes(3).toString("hex")}`;
    const r = spawnSync("ip", ["netns", "add", name], { env: childEnv, encoding: "utf8" });
    assert.equal(r.status, 0, `ip netns add ${name}: ${r.stderr}`);
    made.push(name);
    return name;
  };
  const inNs = (ns: string, script: string, args: string[] = [], input?: string) => {
    const r = spawnSync("ip", ["netns", "exec", ns, "sh", "-c", script, "amphi", ...args], { env: childEnv, encoding: "utf8", input });
    assert.equal(r.status, 0, `in ${ns}: ${script.slice(0, 200)}\n${r.stderr}`);
    return r.stdout;
  };

  before(() => {
    if (unsupported !== null) assert.fail(`CI=true but iptables in a network namespace is unavailable: ${unsupported}`);
  });
  after(() => {
    for (const ns of made) spawnSync("ip", ["netns", "del", ns], { env: childEnv });
  });

  const hasLegacy = findExecutable("iptables-legacy-save", childEnv) !== null;
  for (const [name, setup] of Object.entries(CASES)) {
    const noLegacy = name.endsWith("-legacy") && !hasLegacy ? "iptables-legacy not installed" : false;
    it(`${name}: the live iptables-save parses to the fixture's tables`, { skip: noLegacy }, () => {
      const ns = netns();
      inNs(ns, `set -e\n${setup}`);
      const live = inNs(ns, dump(name));
      if (process.env.UPDATE_GOLDEN === "1") writeFileSync(`${DIR}${name}.txt`, live);
      assert.deepEqual(tablesOf(parseIptables(live, `live ${name}`)), tablesOf(parseIptables(fixture(name), `${name}.txt`)));
    });
  }

  it("capture-drifted: capture-apply.sh with the restore input and the hooks makes it present again", () => {
    const ns = netns();
    inNs(ns, `set -e\n${CASES["capture-drifted"]}`);
    const drift = captureDrift(parseIptables(inNs(ns, DUMP), "live"), RULES);
    const hooks = RULES.hooks.map((h) => [h.table, h.chain, ...h.rule.split(" ")].join("\t"));
    const out = inNs(ns, SCRIPTS["capture-apply"], ["root", "--wait", ...hooks], restoreInput(RULES, drift));
    assert.equal(out, "inserted raw OUTPUT -j AMPHI_RAW_OUTPUT\n");
    assert.equal(captureState(parseIptables(inNs(ns, DUMP), "live"), RULES), "present");
  });

  it("capture-foreign: removal leaves the other tool's rules alone", () => {
    const ns = netns();
    inNs(ns, `set -e\n${CASES["capture-foreign"]}`);
    const before = parseIptables(inNs(ns, DUMP), "live");
    inNs(ns, SCRIPTS["capture-apply"], ["root", "--wait"], restoreInput(null, captureDrift(before, null)));
    const left = parseIptables(inNs(ns, DUMP), "live");
    assert.equal(captureState(left, RULES), "missing");
    const foreign = (doc: IptablesRestore) =>
      doc.tables.map((t) => ({ ...t, chains: t.chains.filter((c) => !c.name.startsWith("AMPHI_")), ops: t.ops.filter((o) => !o.chain.startsWith("AMPHI_") && !o.args.some((a) => a.startsWith("AMPHI_"))) }));
    assert.deepEqual(left.tables, foreign(before));
  });
});
