// The Envoy test double's pure parts: the implemented subset accepts everything amphi's control plane serves to
// sidecars and nothing more; routing (Envoy's domain order, weighted clusters, retry conditions); DNS answers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildResources, TYPE_URL, type MeshResource } from "../../src/mesh/index.js";
import { encodeResource } from "../../src/adapters/xds/protos.js";
import { decodeResource } from "../support/envoy/protos.js";
import { resourceProblems, T } from "../support/envoy/resources.js";
import { matchRoute, planRoute, retriable, virtualHost } from "../support/envoy/routing.js";
import { answer } from "../support/envoy/dns.js";
import { parseArgs, UsageError } from "../support/envoy/cli.js";
import { edgeSnapshot, plainSnapshot, policySnapshot } from "../mesh/snapshots.js";

/** A resource as a sidecar receives it: encoded by the server, decoded by the double. */
const wire = (typeUrl: string, r: MeshResource) => decodeResource(typeUrl, encodeResource(typeUrl, r.body));

describe("Envoy test double: the implemented subset", () => {
  it("accepts every resource amphi serves to sidecars (plain, full policy, edge cases, rate-limited inbound)", () => {
    for (const snap of [plainSnapshot(), policySnapshot(), edgeSnapshot()]) {
      const r = buildResources(snap);
      for (const kind of ["listener", "route", "cluster", "endpoint"] as const) {
        for (const res of r[kind].filter((x) => !x.onlyByName)) assert.deepEqual(resourceProblems(TYPE_URL[kind], wire(TYPE_URL[kind], res), res.name), [], `${snap.env} ${kind} ${res.name}`);
      }
      for (const res of r.inboundByApp.values()) assert.deepEqual(resourceProblems(T.listener, wire(T.listener, res), res.name), []);
    }
  });

  it("rejects what it does not implement, naming the resource and field", () => {
    const r = buildResources(policySnapshot());
    const cluster = r.cluster.find((c) => c.name === "outbound|9100||billing")!;
    const ring = wire(T.cluster, { ...cluster, body: { ...cluster.body, lb_policy: "RING_HASH" } });
    assert.match(resourceProblems(T.cluster, ring, cluster.name).join("\n"), /outbound\|9100\|\|billing\.lb_policy: "RING_HASH" not implemented/);
    const listener = r.listener.find((l) => l.name === "amphi_outbound")!;
    const withTls = wire(T.listener, { ...listener, body: { ...listener.body, listener_filters: [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" } }] } });
    assert.match(resourceProblems(T.listener, withTls, "amphi_outbound").join("\n"), /amphi_outbound\.listener_filters\[0\]\.typed_config: typed config of unknown type|tls_inspector/);
    const route = r.route.find((x) => x.name === "outbound_9100")!;
    const body = structuredClone(route.body) as any;
    body.virtual_hosts[0].routes[0].match = { path: "/exact" };
    assert.match(resourceProblems(T.route, wire(T.route, { ...route, body }), "outbound_9100").join("\n"), /match\.path: not implemented/);
    // The proxyless API listeners are not for sidecars (the server sends them only by name).
    const api = r.listener.find((l) => l.onlyByName)!;
    assert.match(resourceProblems(T.listener, wire(T.listener, api), api.name).join("\n"), /api_listener/);
  });
});

describe("Envoy test double: routing", () => {
  const config = {
    virtual_hosts: [
      { name: "any", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "any" } }] },
      { name: "suffix", domains: ["*.mesh"], routes: [{ match: { prefix: "/" }, route: { cluster: "suffix" } }] },
      { name: "prefix", domains: ["billing.*"], routes: [{ match: { prefix: "/" }, route: { cluster: "prefix" } }] },
      { name: "exact", domains: ["billing:9100", "Billing"], routes: [{ match: { prefix: "/api" }, route: { cluster: "api" } }, { match: { prefix: "/" }, route: { cluster: "exact" } }] },
    ],
  };
  it("picks the virtual host in Envoy's order: exact, suffix wildcard, prefix wildcard, *", () => {
    assert.equal(virtualHost(config, "billing:9100")!["name"], "exact");
    assert.equal(virtualHost(config, "BILLING")!["name"], "exact");
    assert.equal(virtualHost(config, "billing.mesh")!["name"], "suffix");
    assert.equal(virtualHost(config, "billing.other")!["name"], "prefix");
    assert.equal(virtualHost(config, "ledger")!["name"], "any");
    assert.equal(virtualHost({ virtual_hosts: [config.virtual_hosts[3]] }, "ledger"), null);
  });
  it("takes the first route whose prefix matches", () => {
    const vh = virtualHost(config, "billing:9100")!;
    assert.equal(matchRoute(vh, "/api/x")!["route"].cluster, "api");
    assert.equal(matchRoute(vh, "/other")!["route"].cluster, "exact");
  });
  it("splits weighted clusters by weight, and reads timeout and retries", () => {
    const action = { weighted_clusters: { clusters: [{ name: "v1", weight: { value: 90 } }, { name: "v2", weight: { value: 10 } }] }, timeout: { seconds: 1, nanos: 500_000_000 }, retry_policy: { retry_on: "5xx,connect-failure", num_retries: { value: 2 }, per_try_timeout: { nanos: 250_000_000 } } };
    assert.equal(planRoute(action, 0)!.cluster, "v1");
    assert.equal(planRoute(action, 0.899)!.cluster, "v1");
    assert.equal(planRoute(action, 0.9)!.cluster, "v2");
    const p = planRoute(action, 0.5)!;
    assert.equal(p.timeoutMs, 1500);
    assert.deepEqual({ ...p.retry, on: [...p.retry!.on] }, { on: ["5xx", "connect-failure"], retries: 2, perTryMs: 250 });
    assert.equal(planRoute({ cluster: "c" }, 0)!.timeoutMs, 15_000, "Envoy's default route timeout");
    assert.equal(planRoute({ cluster: "c", timeout: {} }, 0)!.timeoutMs, 0, "0: no timeout");
  });
  it("retries what retry_on names, never an overflow", () => {
    const on = (s: string) => new Set(s.split(","));
    assert.equal(retriable(on("5xx"), { status: 503, grpcStatus: null }), true);
    assert.equal(retriable(on("5xx"), { status: 404, grpcStatus: null }), false);
    assert.equal(retriable(on("gateway-error"), { status: 500, grpcStatus: null }), false);
    assert.equal(retriable(on("connect-failure"), { failure: "connect-failure" }), true);
    assert.equal(retriable(on("connect-failure"), { failure: "reset" }), false);
    assert.equal(retriable(on("unavailable"), { status: 200, grpcStatus: 14 }), true);
    assert.equal(retriable(on("unavailable"), { status: 200, grpcStatus: 8 }), false);
    assert.equal(retriable(on("5xx"), { failure: "overflow" }), false);
  });
});

describe("Envoy test double: DNS filter answers", () => {
  const query = (name: string, type: number) => {
    const labels = name.split(".").flatMap((l) => [l.length, ...Buffer.from(l)]);
    return Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, type, 0, 1]);
  };
  const table = { names: new Map([["billing.mesh", { v4: ["10.255.0.1"], v6: [], ttl: 30 }]]), forward: null };
  it("answers a table name with its A record, its TTL, the query's id", async () => {
    const a = (await answer(table, query("billing.mesh", 1)))!;
    assert.equal(a.readUInt16BE(0), 0x1234);
    assert.equal(a.readUInt16BE(2) & 0x000f, 0, "NOERROR");
    assert.equal(a.readUInt16BE(6), 1, "one answer");
    assert.deepEqual([...a.subarray(a.length - 4)], [10, 255, 0, 1]);
    assert.equal(a.readUInt32BE(a.length - 10), 30);
  });
  it("answers another type of a table name with no records, and an unknown name without client_config with NXDOMAIN", async () => {
    const aaaa = (await answer(table, query("billing.mesh", 28)))!;
    assert.deepEqual([aaaa.readUInt16BE(2) & 0x000f, aaaa.readUInt16BE(6)], [0, 0]);
    const nx = (await answer(table, query("nope.example", 1)))!;
    assert.equal(nx.readUInt16BE(2) & 0x000f, 3);
  });
});

describe("Envoy test double: DNS forwarding (client_config)", () => {
  it("relays another name's query to the upstream resolver and its answer back; SERVFAIL when it is silent", async () => {
    const { createSocket } = await import("node:dgram");
    const upstream = createSocket("udp4");
    const seen: string[] = [];
    upstream.on("message", (q, rinfo) => {
      seen.push(q.subarray(13, 20).toString("latin1"));
      const reply = Buffer.from(q);
      reply.writeUInt16BE(0x8183, 2);
      upstream.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => upstream.bind(0, "127.0.0.1", r));
    const q = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, ...Buffer.from("example"), 3, ...Buffer.from("org"), 0, 0, 1, 0, 1]);
    try {
      const table = { names: new Map(), forward: { resolvers: [{ address: "127.0.0.1", port: upstream.address().port }], timeoutMs: 2000 } };
      const a = (await answer(table, q))!;
      assert.deepEqual([a.readUInt16BE(0), a.readUInt16BE(2)], [0xabcd, 0x8183], "the upstream's answer, relayed");
      assert.deepEqual(seen, ["example"]);
    } finally {
      upstream.close();
    }
    const silent = createSocket("udp4");
    await new Promise<void>((r) => silent.bind(0, "127.0.0.1", r));
    try {
      const a = (await answer({ names: new Map(), forward: { resolvers: [{ address: "127.0.0.1", port: silent.address().port }], timeoutMs: 200 } }, q))!;
      assert.equal(a.readUInt16BE(2) & 0x000f, 2, "SERVFAIL");
    } finally {
      silent.close();
    }
  });
});

describe("Envoy test double: command line", () => {
  it("takes Envoy's spellings and refuses unknown flags", () => {
    const o = parseArgs(["-c", "/b.yaml", "--service-node=n1", "--service-cluster", "c1", "--base-id", "3", "-l", "debug", "--drain-time-s", "2", "--parent-shutdown-time-s", "3", "--mode", "validate"]);
    assert.deepEqual([o.configPath, o.serviceNode, o.serviceCluster, o.baseId, o.logLevel, o.drainTimeS, o.parentShutdownTimeS, o.mode], ["/b.yaml", "n1", "c1", 3, "debug", 2, 3, "validate"]);
    assert.throws(() => parseArgs(["--config-yaml", "{}"]), (e: Error) => e instanceof UsageError && /PARSE ERROR: Argument: --config-yaml/.test(e.message));
    assert.throws(() => parseArgs(["--base-id", "x"]), /Couldn't read argument value/);
    assert.throws(() => parseArgs(["-c"]), /Missing a value/);
  });
});
