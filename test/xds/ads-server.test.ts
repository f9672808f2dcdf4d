// The ADS server's protocol, seen by a bare ADS client: wildcard and named subscriptions, versions and nonces,
// ACK/NACK tracking per node, stale nonces, pushes only to streams whose resources changed, clean close.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { AdsServer } from "../../src/adapters/xds/index.js";
import { adsPackageDefinition } from "../../src/adapters/xds/protos.js";
import { TYPE_URL } from "../../src/mesh/index.js";
import type { NodeTypeState } from "../../src/adapters/xds/state.js";
import type { ResourceKind } from "../../src/mesh/envoy.js";
import { RawAds } from "./support/raw-ads.js";
import { plainSnapshot, policySnapshot } from "../mesh/snapshots.js";

describe("ADS server (state of the world)", () => {
  const logs: string[] = [];
  const server = new AdsServer({ log: (l) => logs.push(l) });
  let port = 0;
  const clients: RawAds[] = [];
  const client = (id: string) => {
    const c = new RawAds(port, id);
    clients.push(c);
    return c;
  };
  /** What the server records of `id`'s `kind` once it has read what was sent. The server reads an ACK or NACK when
   * its turn comes, which on a loaded machine is not within a fixed wait (100 ms once was not): it is polled until
   * `done` holds, for up to 10 s, and fails with what the server holds if it never does. */
  const recorded = async (id: string, kind: ResourceKind, done: (t: NodeTypeState | undefined) => boolean): Promise<NodeTypeState | undefined> => {
    const deadline = Date.now() + 10_000;
    const now = () => server.status().nodes.find((n) => n.id === id)?.types[kind];
    while (!done(now()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(done(now()), `${id}'s ${kind} after 10 s: ${JSON.stringify(now())}`);
    return now();
  };
  const ackedAs = (id: string, kind: ResourceKind, version: string) => recorded(id, kind, (t) => t?.acked === version);

  before(async () => {
    port = await server.listen("127.0.0.1:0");
    server.setSnapshot(plainSnapshot());
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  it("answers a wildcard LDS request with the sidecar listeners (not the API listeners), and records the node's ACK", async () => {
    const c = client("sidecar~a");
    c.send(TYPE_URL.listener, []);
    const r = await c.next();
    assert.equal(r.type_url, TYPE_URL.listener);
    assert.deepEqual(r.resources.map((x) => x["name"]), ["amphi_inbound", "amphi_outbound"]);
    assert.equal(r.resources[1]!["filter_chains"][0].filters[0].typed_config["@type"], "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
    c.send(TYPE_URL.listener, [], { version: r.version_info, nonce: r.nonce });
    assert.deepEqual(await ackedAs("sidecar~a", "listener", r.version_info), { sent: r.version_info, acked: r.version_info, nacked: null, error: null });
    assert.deepEqual(await c.drain(0), [], "an ACK is not answered");
    const node = server.status().nodes.find((n) => n.id === "sidecar~a");
    assert.equal(node?.streams, 1);
  });

  it("answers LDS by name with the API listener a gRPC client asks for", async () => {
    const c = client("grpc~a");
    c.send(TYPE_URL.listener, ["billing:9100"]);
    const r = await c.next();
    assert.deepEqual(r.resources.map((x) => x["name"]), ["billing:9100"]);
    assert.equal(r.resources[0]!["api_listener"].api_listener["@type"], "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
  });

  it("answers EDS by the names asked, and again when the names change", async () => {
    const c = client("sidecar~b");
    c.send(TYPE_URL.endpoint, ["outbound|9100||billing"]);
    const r1 = await c.next();
    assert.deepEqual(r1.resources.map((x) => x["cluster_name"]), ["outbound|9100||billing"]);
    c.send(TYPE_URL.endpoint, ["outbound|9100||billing", "outbound|8080||web", "no-such"], { version: r1.version_info, nonce: r1.nonce });
    const r2 = await c.next();
    assert.deepEqual(r2.resources.map((x) => x["cluster_name"]), ["outbound|8080||web", "outbound|9100||billing"]);
    assert.notEqual(r2.nonce, r1.nonce);
    assert.notEqual(r2.version_info, r1.version_info);
  });

  it("counts and logs a NACK, keeps the node's last good version, and does not resend the same resources", async () => {
    const c = client("sidecar~c");
    c.send(TYPE_URL.cluster, []);
    const r1 = await c.next();
    c.send(TYPE_URL.cluster, [], { version: r1.version_info, nonce: r1.nonce });
    await ackedAs("sidecar~c", "cluster", r1.version_info);
    await c.drain(0);
    const nacksBefore = server.status().counters.nacks;
    // The next snapshot changes the clusters; this proxy rejects it.
    server.setSnapshot(policySnapshot());
    const r2 = await c.next();
    assert.notEqual(r2.version_info, r1.version_info);
    c.send(TYPE_URL.cluster, [], { version: r1.version_info, nonce: r2.nonce, error: "outlier_detection: bad value" });
    await recorded("sidecar~c", "cluster", (t) => t?.nacked === r2.version_info);
    assert.deepEqual(await c.drain(300), [], "a NACK is not answered with the same resources");
    const st = server.status();
    assert.equal(st.counters.nacks, nacksBefore + 1);
    assert.deepEqual(st.nodes.find((n) => n.id === "sidecar~c")?.types.cluster, { sent: r2.version_info, acked: r1.version_info, nacked: r2.version_info, error: "outlier_detection: bad value" });
    assert.ok(logs.some((l) => l.includes("sidecar~c") && l.includes("NACK of cluster") && l.includes("bad value")), logs.join("\n"));
    // A stale ACK (an older nonce) changes nothing.
    c.send(TYPE_URL.cluster, [], { version: r2.version_info, nonce: r1.nonce });
    await c.drain(100);
    assert.equal(server.status().nodes.find((n) => n.id === "sidecar~c")?.types.cluster?.acked, r1.version_info);
    server.setSnapshot(plainSnapshot());
    const r3 = await c.next();
    c.send(TYPE_URL.cluster, [], { version: r3.version_info, nonce: r3.nonce });
    // r3 is r1's snapshot again, so acked already reads r3's version: wait for the NACK to be cleared as well.
    assert.deepEqual(await recorded("sidecar~c", "cluster", (t) => t?.acked === r3.version_info && t.nacked === null), { sent: r3.version_info, acked: r3.version_info, nacked: null, error: null });
  });

  it("pushes a new snapshot only to the streams whose subscribed resources changed", async () => {
    const billing = client("gw~billing");
    const web = client("gw~web");
    billing.send(TYPE_URL.endpoint, ["outbound|9100||billing"]);
    web.send(TYPE_URL.endpoint, ["outbound|8080||web"]);
    const b1 = await billing.next();
    const w1 = await web.next();
    billing.send(TYPE_URL.endpoint, ["outbound|9100||billing"], { version: b1.version_info, nonce: b1.nonce });
    web.send(TYPE_URL.endpoint, ["outbound|8080||web"], { version: w1.version_info, nonce: w1.nonce });
    await ackedAs("gw~billing", "endpoint", b1.version_info);
    await ackedAs("gw~web", "endpoint", w1.version_info);
    await billing.drain(0);
    const changed = plainSnapshot();
    changed.services[0]!.ports[0]!.instances[1]!.passing = true;
    server.setSnapshot(changed);
    const b2 = await billing.next();
    assert.equal(b2.resources[0]!["endpoints"][0].lb_endpoints.length, 2);
    const w2 = await web.drain(300);
    assert.deepEqual(w2, [], JSON.stringify({ w1: [w1.version_info, w1.nonce], w2: w2.map((r) => [r.version_info, r.nonce]) }));
    server.setSnapshot(changed);
    assert.deepEqual(await billing.drain(200), [], "an equal snapshot pushes nothing");
    server.setSnapshot(plainSnapshot());
  });

  it("pushes only the changed endpoints to a stream naming many clusters; CDS stays whole; new names get everything", async () => {
    const names = ["outbound|8080||web", "outbound|9100||billing"];
    const c = client("sidecar~partial");
    c.send(TYPE_URL.endpoint, names);
    const e1 = await c.next();
    assert.deepEqual(e1.resources.map((x) => x["cluster_name"]), names);
    c.send(TYPE_URL.endpoint, names, { version: e1.version_info, nonce: e1.nonce });
    c.send(TYPE_URL.cluster, []);
    const c1 = await c.next();
    c.send(TYPE_URL.cluster, [], { version: c1.version_info, nonce: c1.nonce });
    await ackedAs("sidecar~partial", "endpoint", e1.version_info);
    await ackedAs("sidecar~partial", "cluster", c1.version_info);
    await c.drain(0);
    const changed = plainSnapshot();
    changed.services[0]!.ports[0]!.instances[1]!.passing = true;
    server.setSnapshot(changed);
    const e2 = await c.next();
    assert.equal(e2.type_url, TYPE_URL.endpoint);
    assert.deepEqual(e2.resources.map((x) => x["cluster_name"]), ["outbound|9100||billing"], "only the cluster whose endpoints changed");
    assert.equal(e2.resources[0]!["endpoints"][0].lb_endpoints.length, 2);
    assert.notEqual(e2.version_info, e1.version_info);
    c.send(TYPE_URL.endpoint, names, { version: e2.version_info, nonce: e2.nonce });
    assert.deepEqual(await c.drain(200), [], "the clusters did not change: no CDS push");
    // A policy change alters clusters: CDS comes whole (state of the world), every cluster in it.
    server.setSnapshot(policySnapshot());
    const pushes = [await c.next(), await c.next()];
    const cds = pushes.find((r) => r.type_url === TYPE_URL.cluster)!;
    assert.ok(cds.resources.length >= 4, `CDS carries every cluster: ${cds.resources.map((x) => x["name"])}`);
    // A stream that changes its names gets every resource it names.
    const e3 = pushes.find((r) => r.type_url === TYPE_URL.endpoint) ?? (await c.next());
    c.send(TYPE_URL.endpoint, ["outbound|9100||billing", "outbound|9100|2.3.0|billing"], { version: e3.version_info, nonce: e3.nonce });
    const e4 = await c.next();
    assert.deepEqual(e4.resources.map((x) => x["cluster_name"]), ["outbound|9100|2.3.0|billing", "outbound|9100||billing"]);
    server.setSnapshot(plainSnapshot());
  });

  it("answers Delta xDS with UNIMPLEMENTED", async () => {
    const pkg = grpc.loadPackageDefinition(adsPackageDefinition()) as any;
    const raw = new pkg.envoy.service.discovery.v3.AggregatedDiscoveryService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = raw.DeltaAggregatedResources();
    const code = await new Promise((resolve) => call.on("error", (e: grpc.ServiceError) => resolve(e.code)));
    assert.equal(code, grpc.status.UNIMPLEMENTED);
    raw.close();
  });

  it("counts a node's streams down when they close", async () => {
    const c = client("sidecar~gone");
    c.send(TYPE_URL.listener, []);
    await c.next();
    assert.equal(server.status().nodes.find((n) => n.id === "sidecar~gone")?.streams, 1);
    c.close();
    await c.drain(200);
    assert.equal(server.status().nodes.find((n) => n.id === "sidecar~gone")?.streams, 0);
  });
});

describe("ADS server's memory of nodes", () => {
  it("forgets a node that has had no stream for forgetAfterMs; a connected one stays", async () => {
    const server = new AdsServer({ forgetAfterMs: 300 });
    const port = await server.listen("127.0.0.1:0");
    server.setSnapshot(plainSnapshot());
    const stays = new RawAds(port, "sidecar~stays");
    const goes = new RawAds(port, "sidecar~goes");
    try {
      for (const c of [stays, goes]) {
        c.send(TYPE_URL.listener, []);
        await c.next();
      }
      goes.close();
      await goes.drain(200);
      assert.deepEqual(server.status().nodes.map((n) => [n.id, n.streams]), [["sidecar~goes", 0], ["sidecar~stays", 1]], "disconnected, still reported");
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(server.status().nodes.map((n) => n.id), ["sidecar~stays"]);
    } finally {
      stays.close();
      await server.close();
    }
  });
});

describe("ADS server before its first snapshot", () => {
  it("holds requests until the first snapshot, then answers them", async () => {
    const server = new AdsServer();
    const port = await server.listen("127.0.0.1:0");
    const c = new RawAds(port, "early~bird");
    try {
      c.send(TYPE_URL.listener, []);
      assert.deepEqual(await c.drain(300), [], "nothing is served before the registry was read");
      server.setSnapshot(plainSnapshot());
      const r = await c.next();
      assert.deepEqual(r.resources.map((x) => x["name"]), ["amphi_inbound", "amphi_outbound"]);
    } finally {
      c.close();
      await server.close();
    }
  });
});
