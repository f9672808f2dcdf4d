// Self-registered services (in Consul, declared by no app) as mesh destinations: ports from the catalog, the
// protocol from meta or tag (tcp without), collisions on the one mesh IP skipped with a warning naming both.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildResources, catalogServices, meshSnapshot, type RegisteredInstance, type ServiceDecl } from "../../src/mesh/index.js";

const inst = (id: string, port: number, over: Partial<RegisteredInstance> = {}): RegisteredInstance => ({ id, address: "10.0.0.9", port, tags: [], meta: {}, passing: true, ...over });
const DECLARED: ServiceDecl[] = [
  { name: "billing", app: "billing", ports: [{ port: 9100, protocol: "http" }] },
  { name: "db", app: "db", ports: [{ port: 5432, protocol: "tcp" }] },
];

describe("catalogServices", () => {
  it("makes a destination of each undeclared service: its catalog ports, protocol from meta or tag, tcp by default", () => {
    const catalog = new Map([
      ["orders", [inst("orders-1", 8080, { meta: { protocol: "http" } }), inst("orders-2", 8080, { meta: { protocol: "HTTP" } })]],
      ["ledger", [inst("ledger-1", 7000, { tags: ["protocol=grpc"] })]],
      ["cache", [inst("cache-1", 6379)]],
      ["billing", [inst("billing-x", 9100)]],
      ["consul", [inst("consul", 8300)]],
      ["user", [inst("user-vm-1-8091", 8091, { tags: ["amphi", "env:staging"] })]],
    ]);
    const r = catalogServices(DECLARED, catalog);
    assert.deepEqual(r.services, [
      { name: "cache", app: "cache", ports: [{ port: 6379, protocol: "tcp" }] },
      { name: "ledger", app: "ledger", ports: [{ port: 7000, protocol: "grpc" }] },
      { name: "orders", app: "orders", ports: [{ port: 8080, protocol: "http" }] },
    ]);
    assert.deepEqual(r.warnings, []);
  });

  it("skips colliding ports with a warning naming both services; an http service shares an http port", () => {
    const catalog = new Map([
      ["pg-replica", [inst("pg-1", 5432)]],
      ["legacy", [inst("legacy-1", 9100)]],
      ["spring-a", [inst("a-1", 9100, { meta: { protocol: "http" } })]],
      ["spring-b", [inst("b-1", 8080), inst("b-2", 8081)]],
      ["spring-c", [inst("c-1", 8080)]],
      ["Bad_Name", [inst("x", 1)]],
      ["mixed", [inst("m-1", 7100, { meta: { protocol: "http" } }), inst("m-2", 7100, { meta: { protocol: "grpc" } })]],
      ["weird", [inst("w-1", 7200, { meta: { protocol: "thrift" } })]],
    ]);
    const r = catalogServices(DECLARED, catalog);
    assert.deepEqual(r.services.map((s) => [s.name, s.ports.map((p) => `${p.port}/${p.protocol}`)]), [
      ["mixed", ["7100/tcp"]],
      ["spring-a", ["9100/http"]],
      ["spring-b", ["8080/tcp", "8081/tcp"]],
      ["weird", ["7200/tcp"]],
    ]);
    assert.deepEqual(r.warnings, [
      `mesh: self-registered service "Bad_Name" is not a DNS label: not a mesh destination`,
      `mesh: self-registered service "legacy" (tcp, port 9100) collides with service "billing" (http) on port 9100: port skipped (every service shares the mesh IP, so a tcp service is told apart by its port alone); if it speaks HTTP, register it with meta protocol=http`,
      `mesh: self-registered service "mixed": its instances name different protocols (grpc, http); serving it as tcp`,
      `mesh: self-registered service "pg-replica" (tcp, port 5432) collides with service "db" (tcp) on port 5432: port skipped (every service shares the mesh IP, so a tcp service is told apart by its port alone); if it speaks HTTP, register it with meta protocol=http`,
      `mesh: self-registered service "spring-c" (tcp, port 8080) collides with service "spring-b" (tcp) on port 8080: port skipped (every service shares the mesh IP, so a tcp service is told apart by its port alone); if it speaks HTTP, register it with meta protocol=http`,
      `mesh: self-registered service "weird": unknown protocol "thrift" (http, grpc or tcp); serving it as tcp`,
    ]);
  });

  it("gives the sidecars a filter chain, cluster and endpoints for it, and never two services on one tcp port", () => {
    const catalog = new Map([["cache", [inst("cache-1", 6379)]], ["cache2", [inst("cache2-1", 6379)]]]);
    const r = catalogServices(DECLARED, catalog);
    const instances = new Map([...catalog].map(([k, v]) => [k, [...v]]));
    const snapshot = meshSnapshot({ env: "prod", settings: { domain: "mesh", outboundPort: 15001, inboundPort: 15006 }, services: [...DECLARED, ...r.services], policies: [], instances, hostGroups: new Map() });
    const res = buildResources(snapshot);
    assert.ok(res.cluster.some((c) => c.name === "outbound|6379||cache"), res.cluster.map((c) => c.name).join(" "));
    assert.ok(!res.cluster.some((c) => c.name.endsWith("||cache2")));
    const eps = res.endpoint.find((e) => e.name === "outbound|6379||cache")!.body as { endpoints: { lb_endpoints: unknown[] }[] };
    assert.equal(eps.endpoints.flatMap((e) => e.lb_endpoints).length, 1);
  });
});
