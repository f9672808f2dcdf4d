// The Consul double's catalog writes (what the pod sync uses, as consul-k8s's catalog sync does): services on
// nodes without an agent, with checks whose status the writer sets. The same assertions hold for a real
// Consul at CONSUL_HTTP_ADDR.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { call, uniqueName } from "./helpers.js";

interface HealthEntry {
  Node: { Node: string; Address: string; Meta: Record<string, string> | null };
  Service: { ID: string; Service: string; Address: string; Port: number; Tags: string[]; Meta: Record<string, string> };
  Checks: { Node: string; CheckID: string; Status: string; ServiceID: string; Output: string }[];
}

describe("Consul double: catalog register and deregister on external nodes", () => {
  let t: ConsulTestTarget;
  const put = (path: string, body?: unknown) => call(t.url, "PUT", path, { token: t.token, body });
  const get = (path: string) => call(t.url, "GET", path, { token: t.token });
  const nodes: string[] = [];
  const node = (label: string) => {
    const n = uniqueName(label);
    nodes.push(n);
    return n;
  };
  const instance = (n: string, id: string, name: string, address: string, status = "passing") => ({
    Node: n, Address: "127.0.0.1", NodeMeta: { "external-source": "amphi" },
    Service: { ID: id, Service: name, Address: address, Port: 9100, Tags: ["amphi", "runtime:k8s"], Meta: { "amphi-pod": id } },
    Checks: [{ CheckID: `ready:${id}`, Name: "Kubernetes readiness", Status: status, ServiceID: id, Output: "pod is ready" }],
  });

  before(async () => {
    t = await consulTestTarget();
  });
  after(async () => {
    for (const n of nodes) await put("/v1/catalog/deregister", { Node: n }).catch(() => {});
    await t.close();
  });

  it("shows a catalog service under its own node, with its check's status, in catalog and health answers", async () => {
    const name = uniqueName("pods");
    const n = node("amphi-k8s-a");
    const r = await put("/v1/catalog/register", instance(n, "shop.p1-9100", name, "10.1.0.7"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json, true);
    assert.deepEqual(((await get("/v1/catalog/services")).json as Record<string, string[]>)[name]?.sort(), ["amphi", "runtime:k8s"]);
    const health = (await get(`/v1/health/service/${name}`)).json as HealthEntry[];
    assert.equal(health.length, 1);
    assert.equal(health[0]!.Node.Node, n);
    assert.deepEqual([health[0]!.Service.ID, health[0]!.Service.Address, health[0]!.Service.Port], ["shop.p1-9100", "10.1.0.7", 9100]);
    assert.deepEqual(health[0]!.Checks.map((c) => [c.Node, c.CheckID, c.Status, c.ServiceID]), [[n, "ready:shop.p1-9100", "passing", "shop.p1-9100"]]);
    const catalog = (await get(`/v1/catalog/service/${name}`)).json as { Node: string; ServiceID: string; NodeMeta: Record<string, string> }[];
    assert.deepEqual(catalog.map((c) => [c.Node, c.ServiceID, c.NodeMeta["external-source"]]), [[n, "shop.p1-9100", "amphi"]]);
    const agent = (await get("/v1/agent/services")).json as Record<string, unknown>;
    assert.equal(agent["shop.p1-9100"], undefined, "a catalog service on another node is not the agent's");
  });

  it("keeps the same ID apart on two nodes, filters critical ones by ?passing, and wakes a blocking query on a write", async () => {
    const name = uniqueName("pods");
    const [a, b] = [node("amphi-k8s-a"), node("amphi-k8s-b")];
    await put("/v1/catalog/register", instance(a, "shop.p-9100", name, "10.1.0.1"));
    await put("/v1/catalog/register", instance(b, "shop.p-9100", name, "10.2.0.1", "critical"));
    const all = (await get(`/v1/health/service/${name}`)).json as HealthEntry[];
    assert.deepEqual(all.map((e) => [e.Node.Node, e.Service.Address, e.Checks[0]!.Status]).sort(), [[a, "10.1.0.1", "passing"], [b, "10.2.0.1", "critical"]].sort());
    const first = await get(`/v1/health/service/${name}?passing=1`);
    assert.deepEqual((first.json as HealthEntry[]).map((e) => e.Node.Node), [a]);
    // Woken by the change, not the end of the wait: 60 s against a 30 s bound tells them apart on a loaded machine.
    const blocked = call(t.url, "GET", `/v1/health/service/${name}?passing=1&index=${first.index}&wait=60s`, { token: t.token });
    await new Promise((r) => setTimeout(r, 100));
    await put("/v1/catalog/register", instance(b, "shop.p-9100", name, "10.2.0.1", "passing"));
    const woke = await blocked;
    assert.ok(woke.ms < 30_000, `woken in ${woke.ms} ms`);
    assert.equal((woke.json as HealthEntry[]).length, 2);
  });

  it("deregisters a service with its checks (true also when nothing is there), and a whole node", async () => {
    const name = uniqueName("pods");
    const n = node("amphi-k8s-c");
    await put("/v1/catalog/register", instance(n, "shop.x-9100", name, "10.3.0.1"));
    await put("/v1/catalog/register", instance(n, "shop.y-9100", name, "10.3.0.2"));
    const gone = await put("/v1/catalog/deregister", { Node: n, ServiceID: "shop.x-9100" });
    assert.equal(gone.status, 200, gone.text);
    assert.deepEqual(((await get(`/v1/health/service/${name}`)).json as HealthEntry[]).map((e) => e.Service.ID), ["shop.y-9100"]);
    assert.deepEqual((await put("/v1/catalog/deregister", { Node: n, ServiceID: "shop.x-9100" })).json, true);
    await put("/v1/catalog/deregister", { Node: n });
    assert.deepEqual((await get(`/v1/health/service/${name}`)).json, []);
  });

  it("answers a node's services and its checks in one request each, and lists nodes by node meta", async () => {
    const [x, y] = [uniqueName("pods"), uniqueName("pods")];
    const n = node("amphi-k8s-e");
    await put("/v1/catalog/register", instance(n, "shop.a-9100", x, "10.4.0.1"));
    await put("/v1/catalog/register", instance(n, "shop.b-9100", y, "10.4.0.2", "critical"));
    const ns = (await get(`/v1/catalog/node-services/${n}`)).json as { Node: { Node: string; Meta: Record<string, string> }; Services: HealthEntry["Service"][] };
    assert.equal(ns.Node.Node, n);
    assert.equal(ns.Node.Meta["external-source"], "amphi");
    assert.deepEqual(ns.Services.map((s) => [s.ID, s.Service, s.Address, s.Port, s.Tags, s.Meta["amphi-pod"]]).sort(), [
      ["shop.a-9100", x, "10.4.0.1", 9100, ["amphi", "runtime:k8s"], "shop.a-9100"],
      ["shop.b-9100", y, "10.4.0.2", 9100, ["amphi", "runtime:k8s"], "shop.b-9100"],
    ]);
    const checks = (await get(`/v1/health/node/${n}`)).json as HealthEntry["Checks"];
    assert.deepEqual(checks.map((c) => [c.Node, c.CheckID, c.ServiceID, c.Status]).sort(), [
      [n, "ready:shop.a-9100", "shop.a-9100", "passing"],
      [n, "ready:shop.b-9100", "shop.b-9100", "critical"],
    ]);
    const listed = (await get("/v1/catalog/nodes?node-meta=external-source:amphi")).json as { Node: string; Meta: Record<string, string> }[];
    assert.ok(listed.some((l) => l.Node === n), JSON.stringify(listed));
    assert.ok(listed.every((l) => l.Meta["external-source"] === "amphi"), "only nodes with that meta");
    const none = (await get(`/v1/catalog/nodes?node-meta=external-source:${uniqueName("none")}`)).json;
    assert.deepEqual(none, []);
    assert.deepEqual((await get(`/v1/health/node/${uniqueName("nonode")}`)).json, []);
  });

  it("refuses a registration without node or address, and a check for a service the node does not have", async () => {
    const n = node("amphi-k8s-d");
    assert.equal((await put("/v1/catalog/register", { Address: "127.0.0.1" })).status, 400);
    assert.equal((await put("/v1/catalog/register", { Node: n })).status, 400);
    const r = await put("/v1/catalog/register", { Node: n, Address: "127.0.0.1", Check: { CheckID: "c1", Status: "passing", ServiceID: "nope" } });
    assert.equal(r.status, 400);
    assert.match(r.text, /nope/);
  });
});
