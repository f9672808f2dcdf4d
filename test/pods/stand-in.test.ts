// Stand-in pods next to a test fleet (test/support/pod-netns.ts): a pod namespace on the fleet's bridge gets the
// rendered amphi-init applied with the real iptables-restore, and then behaves as capture promises. In the pod run
// small node stand-ins that answer with their name and uid: the sidecar's outbound (15001) and inbound (15006)
// listeners and the DNS listener (127.0.0.1:15053, UDP) as the proxy uid 1337, the app on 8080 as uid 1000. The
// test process serves on the fleet's root address (a plain server elsewhere on the network).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import type { K8sObject } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import { modelFixture } from "../support/model-fixture.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { startPod, type StandInPod } from "../support/pod-netns.js";
import { rulesByChain } from "./support.js";

const support = fleetSupported();
const skip = support.ok ? false : process.env.CI === "true" ? false : `netns test hosts unavailable: ${support.reason}`;

const PROXY = { uid: 1337 };
const APP = { uid: 1000 };
const SERVICE_IP = "10.255.0.1";

/** `node -e SERVER tcp|udp <name> <host> <port>`: answers every connection (datagram) with `<name> uid=<uid>`. */
const SERVER = String.raw`
const net = require("net"), dgram = require("dgram");
const [kind, name, host, port] = process.argv.slice(1);
const reply = name + " uid=" + process.getuid();
if (kind === "tcp") net.createServer((s) => { s.on("error", () => {}); s.end(reply + "\n"); }).listen({ host, port: +port }, () => console.log("ready"));
else { const u = dgram.createSocket("udp4"); u.on("message", (m, r) => u.send(reply, r.port, r.address)); u.bind({ address: host, port: +port }, () => console.log("ready")); }
`;

/** `node -e CLIENT tcp|udp <host> <port>`: prints the answer's first line, or `ERR <code>`. */
const CLIENT = String.raw`
const net = require("net"), dgram = require("dgram");
const [kind, host, port] = process.argv.slice(1);
const done = (s) => { console.log(s); process.exit(0); };
setTimeout(() => done("ERR timeout"), 3000);
if (kind === "tcp") { const s = net.connect({ host, port: +port }); let d = ""; s.on("data", (x) => (d += x)); s.on("end", () => done(d.split("\n")[0])); s.on("error", (e) => done("ERR " + e.code)); }
else { const u = dgram.createSocket("udp4"); u.on("message", (m) => done(String(m))); u.on("error", (e) => done("ERR " + e.code)); u.send("query", +port, host); }
`;

function rendered(key: string): K8sObject {
  const r = render(modelFixture(), "prod").resources.find((x) => x.key === key);
  assert.ok(r && r.runtime === "k8s", `no k8s resource ${key}`);
  return r.object;
}

describe("a stand-in pod with the rendered init rules", { skip }, () => {
  let fleet: TestFleet;
  let pod: StandInPod;
  let outside: Server;
  let outsidePort = 0;

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but netns test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 1 });
    pod = await startPod({ fleet });
    outside = createServer((s) => s.end("outside\n"));
    await new Promise<void>((resolve) => outside.listen(0, fleet.rootAddress, resolve));
    outsidePort = (outside.address() as { port: number }).port;
    const applied = await pod.applyInit(rendered("k8s/eu1/Deployment/shop/catalog"), rendered("k8s/eu1/ConfigMap/shop/amphi-proxy-catalog"));
    assert.equal(applied.code, 0, applied.stderr);
    await Promise.all([
      serve("tcp", "outbound", "0.0.0.0", 15001, PROXY),
      serve("tcp", "inbound", "0.0.0.0", 15006, PROXY),
      serve("udp", "dns", "127.0.0.1", 15053, PROXY),
      serve("tcp", "app", "0.0.0.0", 8080, APP),
    ]);
  });
  after(async () => {
    await pod?.cleanup();
    outside?.close();
    await fleet?.cleanup();
  });

  async function serve(kind: "tcp" | "udp", name: string, host: string, port: number, as: { uid: number }): Promise<void> {
    const child = pod.start([process.execPath, "-e", SERVER, kind, name, host, String(port)], { as });
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (out.includes("ready")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`${name} stand-in exited (${code})`)));
    });
  }

  const dial = async (kind: "tcp" | "udp", host: string, port: number, as: { uid: number }) => {
    const r = await pod.exec([process.execPath, "-e", CLIENT, kind, host, String(port)], { as });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };

  it("has exactly the rendered rules (iptables-save of the namespace)", async () => {
    const want = rulesByChain((rendered("k8s/eu1/ConfigMap/shop/amphi-proxy-catalog") as unknown as { data: Record<string, string> }).data["capture.rules"]!);
    assert.deepEqual(rulesByChain(await pod.iptablesSave()), want);
  });

  it("redirects the app's connection to the mesh IP to the outbound port, and only that", async () => {
    assert.equal(await dial("tcp", SERVICE_IP, 9100, APP), "outbound uid=1337");
    assert.equal(await dial("tcp", fleet.rootAddress, outsidePort, APP), "outside", "other destinations are not captured");
    assert.equal(await dial("tcp", "127.0.0.1", 8080, APP), "app uid=1000", "loopback is not captured");
  });

  it("leaves the proxy uid's own connections alone", async () => {
    assert.equal(await dial("tcp", fleet.rootAddress, outsidePort, PROXY), "outside");
    assert.notEqual(await dial("tcp", SERVICE_IP, 9100, PROXY), "outbound uid=1337", "the proxy's call to the mesh IP is not looped back to itself");
  });

  it("sends the app's DNS queries to the DNS port, and inbound calls to the app's port to the inbound port", async () => {
    assert.equal(await dial("udp", fleet.rootAddress, 53, APP), "dns uid=1337");
    const fromHost = await fleet.execOnHost(0, [process.execPath, "-e", CLIENT, "tcp", pod.address!, "8080"]);
    assert.equal(fromHost.stdout.trim(), "inbound uid=1337", fromHost.stderr);
  });
});
