// Capture rules of VM hosts: one iptables-restore --noflush fragment per host, hooks, inbound ports.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { CaptureRules, Model } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import { assertGolden } from "../support/golden.js";
import { modelFixture, withCapture } from "../support/model-fixture.js";

const golden = (name: string) => fileURLToPath(new URL(`golden/${name}`, import.meta.url));

function captures(model: Model): { key: string; target: string; capture: CaptureRules }[] {
  return render(model, "prod").resources.flatMap((r) => (r.runtime === "capture" ? [r] : []));
}

describe("render capture rules", () => {
  const model = modelFixture();

  it("renders one capture resource per host that has instances", () => {
    assert.deepEqual(
      captures(model).map((c) => `${c.key} ${c.target}`),
      ["capture/legacy/vm-1 legacy/vm-1", "capture/legacy/vm-2 legacy/vm-2"],
    );
    const placed = withCapture(model, true);
    placed.environments[0]!.placements = placed.environments[0]!.placements.map((p) =>
      p.type === "hostGroup" ? { ...p, hosts: ["vm-2"] } : p,
    );
    assert.deepEqual(captures(placed).map((c) => c.key), ["capture/legacy/vm-2"]);
  });

  it("writes both apps of a host into one fragment (golden)", () => {
    const vm1 = captures(model).find((c) => c.key === "capture/legacy/vm-1")!.capture;
    assertGolden(golden("capture-legacy-vm-1.rules"), vm1.fragment);
  });

  it("lists the inbound ports per app, apps and ports sorted", () => {
    const vm1 = captures(model)[0]!.capture;
    assert.deepEqual(vm1.inbound, [
      { app: "billing", ports: [9100] },
      { app: "catalog", ports: [8080, 9090] },
    ]);
  });

  it("declares only amphi's own chains, never a built-in one", () => {
    const { fragment } = captures(model)[0]!.capture;
    const declared = fragment.split("\n").filter((l) => l.startsWith(":"));
    assert.ok(declared.length > 0);
    for (const line of declared) assert.match(line, /^:AMPHI_[A-Z_]+ - \[0:0\]$/);
    const appended = fragment.split("\n").filter((l) => l.startsWith("-A "));
    for (const line of appended) assert.match(line, /^-A AMPHI_/);
  });

  it("returns the proxy uid's traffic before anything else, and redirects DNS before the loopback RETURN", () => {
    const lines = captures(model)[0]!.capture.fragment.split("\n").filter((l) => l.startsWith("-A AMPHI_OUTPUT"));
    assert.equal(lines[0], "-A AMPHI_OUTPUT -m owner --uid-owner 1337 -j RETURN");
    const dns = lines.findIndex((l) => l.includes("--dport 53"));
    const loopback = lines.findIndex((l) => l.includes("127.0.0.0/8"));
    assert.ok(dns > 0 && dns < loopback);
    assert.equal(lines.at(-1), "-A AMPHI_OUTPUT -d 10.255.0.1/32 -p tcp -j AMPHI_OUT_REDIRECT");
  });

  it("hooks amphi's chains into the built-in ones", () => {
    assert.deepEqual(captures(model)[0]!.capture.hooks, [
      { table: "nat", chain: "PREROUTING", rule: "-p tcp -j AMPHI_PREROUTING" },
      { table: "nat", chain: "OUTPUT", rule: "-j AMPHI_OUTPUT" },
      { table: "raw", chain: "OUTPUT", rule: "-j AMPHI_RAW_OUTPUT" },
    ]);
  });

  it("puts only the clients' DNS flows into a conntrack zone, nothing in raw PREROUTING", () => {
    // A zone set in raw PREROUTING would also hit replies to DNS queries the host forwards (containers, VMs
    // behind it): they would miss their zone-0 entry and never be un-NATed (see rawRules).
    const { fragment, hooks } = captures(model)[0]!.capture;
    const raw = fragment.slice(fragment.indexOf("*raw"));
    assert.deepEqual(
      raw.split("\n").filter((l) => l.startsWith("-A ")),
      [
        "-A AMPHI_RAW_OUTPUT -p udp --sport 15053 -m owner --uid-owner 1337 -j CT --zone 2",
        "-A AMPHI_RAW_OUTPUT -p udp --dport 53 -m owner ! --uid-owner 1337 -j CT --zone 2",
      ],
    );
    assert.ok(!hooks.some((h) => h.table === "raw" && h.chain === "PREROUTING"));
  });

  it("renders no capture resources when capture is off", () => {
    const desired = render(withCapture(model, false), "prod");
    assert.equal(desired.resources.filter((r) => r.runtime === "capture").length, 0);
    assert.ok(desired.resources.some((r) => r.runtime === "vm"));
  });
});
