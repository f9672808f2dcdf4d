// The sidecar's data path against amphi's real xDS server (src/adapters/xds serving MeshSnapshots built by
// src/mesh), in network namespaces (support.ts): host0's app traffic is captured by amphi's rendered iptables rules
// (applied with iptables-restore) and goes through the sidecar — the Envoy test double, or a real Envoy with
// AMPHI_TEST_ENVOY — running as the proxy uid; instances run on host1 and host2.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdsServer } from "../../src/adapters/xds/index.js";
import { buildResources, type MeshResources, type MeshService } from "../../src/mesh/index.js";
import type { RunningEnvoy } from "../support/envoy.js";
import { policy } from "../mesh/snapshots.js";
import { MESH_IP, on, skipNoNetns, snapshot, startWorld, type World } from "./support.js";

/** Waits until the sidecar has ACKed what the server serves now (every type it subscribed to). */
async function synced(server: AdsServer, node: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const n = server.status().nodes.find((x) => x.id === node);
    const types = Object.values(n?.types ?? {});
    if (types.length >= 4 && types.every((t) => t.sent !== null && t.acked === t.sent)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`sidecar ${node} did not ACK the snapshot: ${JSON.stringify(server.status().nodes)}`);
}

describe("Envoy sidecar data path (netns)", { skip: skipNoNetns }, () => {
  const NODE = "sidecar~prod~web~web-h0";
  let world: World;
  let server: AdsServer;
  let sidecar: RunningEnvoy;
  const serve = async (services: MeshService[]) => {
    server.setSnapshot(snapshot(services));
    await synced(server, NODE);
  };
  const billing = (more: Partial<MeshService> = {}): MeshService => ({ name: "billing", ports: [{ port: 9100, protocol: "http", instances: [on(world, 1, 8001)] }], policy: null, ...more });
  const ledger = (): MeshService => ({ name: "ledger", ports: [{ port: 9100, protocol: "http", instances: [on(world, 2, 8002)] }], policy: null });
  const cache = (): MeshService => ({ name: "cache", ports: [{ port: 7000, protocol: "tcp", instances: [on(world, 2, 7001)] }], policy: null });

  before(async () => {
    world = await startWorld();
    server = new AdsServer();
    const port = await server.listen(`${world.fleet.rootAddress}:0`);
    server.setSnapshot(snapshot([billing(), ledger(), cache()]));
    sidecar = await world.startSidecar({ host: world.fleet.rootAddress, port }, NODE);
  });
  after(async () => {
    await sidecar?.stop("SIGKILL");
    await server?.close();
    await world?.close();
  });

  it("routes HTTP by Host: two services on one port reach their own instances; an unknown host gets 404", async () => {
    await serve([billing(), ledger(), cache()]);
    assert.deepEqual(await world.client({ port: 9100, host: "billing:9100", n: 4 }), { by: { "h1:8001": 4 }, status: { "200": 4 } }, sidecar.output());
    assert.deepEqual(await world.client({ port: 9100, host: "ledger.mesh:9100", n: 4 }), { by: { "h2:8002": 4 }, status: { "200": 4 } });
    assert.deepEqual((await world.client({ port: 9100, host: "nobody:9100", n: 2 })).status, { "404": 2 });
  });

  it("splits a service 90/10 over its versions (weighted clusters)", async () => {
    await serve([
      billing({
        ports: [{ port: 9100, protocol: "http", instances: [on(world, 1, 8001, { version: "1.0.0" }), on(world, 2, 8001, { version: "2.0.0" })] }],
        policy: policy("billing", { split: [{ version: "1.0.0", weight: 90 }, { version: "2.0.0", weight: 10 }] }),
      }),
    ]);
    const r = await world.client({ port: 9100, host: "billing:9100", n: 300, concurrency: 4 });
    assert.deepEqual(r.status, { "200": 300 });
    const v2 = r.by["h2:8001"] ?? 0;
    // Binomial(300, 0.1): mean 30, sd 5.2; the bounds are > 4 sd away.
    assert.ok(v2 >= 8 && v2 <= 55, `2.0.0 got ${v2} of 300: ${JSON.stringify(r.by)}`);
  });

  it("proxies TCP by destination port to the service's instance", async () => {
    await serve([billing(), cache()]);
    assert.deepEqual(await world.client({ port: 7000, tcp: true, n: 3 }), { by: { "h2:7001": 3 }, status: { ok: 3 } });
  });

  it("passes a non-mesh port of the mesh IP through to its original destination", async () => {
    await serve([billing(), cache()]);
    assert.deepEqual(await world.client({ port: 8888, tcp: true, n: 2 }), { by: { "outside:8888": 2 }, status: { ok: 2 } });
  });

  it("recovers each connection's own original destination under concurrency", async () => {
    await serve([billing(), cache()]);
    const [tcp, outside, http] = await Promise.all([
      world.client({ port: 7000, tcp: true, n: 40, concurrency: 5 }),
      world.client({ port: 8888, tcp: true, n: 40, concurrency: 5 }),
      world.client({ port: 9100, host: "billing:9100", n: 40, concurrency: 5 }),
    ]);
    assert.deepEqual([tcp, outside, http], [
      { by: { "h2:7001": 40 }, status: { ok: 40 } },
      { by: { "outside:8888": 40 }, status: { ok: 40 } },
      { by: { "h1:8001": 40 }, status: { "200": 40 } },
    ]);
  });

  it("delivers inbound calls (captured on the app's port) to the local app", async () => {
    const h0 = world.fleet.hosts[0]!.address;
    assert.deepEqual(await world.clientOn(1, { ip: h0, port: 8091, host: `${h0}:8091`, n: 3 }), { by: { "h0:8091": 3 }, status: { "200": 3 } });
    // Through the sidecar: the inbound listener took them.
    const dump = JSON.parse((await sidecar.adminRequest("/config_dump")).body);
    assert.ok(JSON.stringify(dump).includes("amphi_inbound"));
  });

  it("retries hide a failing instance; without retries its failures show", async () => {
    const both = { ports: [{ port: 9100, protocol: "http" as const, instances: [on(world, 1, 8001), on(world, 2, 8002)] }] };
    await world.mode(2, 8002, "fail");
    try {
      await serve([billing(both)]);
      const plain = await world.client({ port: 9100, host: "billing:9100", n: 20 });
      assert.ok((plain.status["503"] ?? 0) >= 5, `without retries the failing instance answers some calls: ${JSON.stringify(plain)}`);
      await serve([billing({ ...both, policy: policy("billing", { retries: { attempts: 3, perTryTimeoutMs: null, on: ["5xx"] } }) })]);
      assert.deepEqual(await world.client({ port: 9100, host: "billing:9100", n: 30 }), { by: { "h1:8001": 30 }, status: { "200": 30 } });
    } finally {
      await world.mode(2, 8002, "ok");
    }
  });

  it("NACKs a resource using what it does not implement and keeps routing with its last good config", async () => {
    await serve([billing(), cache()]);
    const good = server.status().nodes.find((n) => n.id === NODE)!.types["cluster"]!.acked;
    const r = buildResources(snapshot([billing(), cache()]));
    const bad: MeshResources = { ...r, cluster: r.cluster.map((c) => (c.name === "outbound|9100||billing" ? { ...c, hash: "ringhash", body: { ...c.body, lb_policy: "RING_HASH" } } : c)) };
    server.setResources(bad);
    const deadline = Date.now() + 10_000;
    let t = server.status().nodes.find((n) => n.id === NODE)!.types["cluster"]!;
    while (t.nacked === null && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
      t = server.status().nodes.find((n) => n.id === NODE)!.types["cluster"]!;
    }
    assert.equal(t.acked, good);
    assert.notEqual(t.nacked, null);
    assert.match(t.error ?? "", /outbound\|9100\|\|billing/);
    assert.match(t.error ?? "", /RING_HASH/);
    assert.deepEqual(await world.client({ port: 9100, host: "billing:9100", n: 2 }), { by: { "h1:8001": 2 }, status: { "200": 2 } });
    await serve([billing(), cache()]);
  });
});
