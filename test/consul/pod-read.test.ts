// Reading amphi's pod instances back from Consul by node: the synthetic nodes (by node meta), then per node its
// services and its checks in one request each — so the reads do not grow with the number of services. Same
// assertions on a real Consul at CONSUL_HTTP_ADDR, except the request count (the double records requests).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConsulClient } from "../../src/adapters/consul/client.js";
import { readPodRegistrations, registerPod } from "../../src/adapters/consul/pods.js";
import type { PodInfo, PodRegistration } from "../../src/model/index.js";
import { podRegistration } from "../../src/pod-sync/index.js";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { uniqueName } from "./helpers.js";

describe("readPodRegistrations", () => {
  let t: ConsulTestTarget;
  let client: ConsulClient;
  const written: PodRegistration[] = [];

  before(async () => {
    t = await consulTestTarget();
    client = new ConsulClient({ address: t.url, token: t.token ?? null });
  });
  after(async () => {
    for (const r of written) await client.put("/v1/catalog/deregister", { body: { Node: r.node, ServiceID: r.id } }).catch(() => {});
    await t.close();
  });

  it("reads every pod instance of the environment with its check, in 1 + 2 × nodes requests however many services", async () => {
    const env = uniqueName("e");
    const clusters = [uniqueName("c1"), uniqueName("c2")];
    const pod = (cluster: string, name: string, app: string, envName = env): PodInfo => ({
      cluster, namespace: "shop", name, app, env: envName, ip: `10.9.${clusters.indexOf(cluster) + 1}.${written.length + 1}`, ready: true, image: `reg.example/${app}:1.0.0`, version: null,
    });
    const regs = [
      ...["api", "billing", "catalog", "search", "users"].flatMap((app, i) => [
        podRegistration(env, pod(clusters[0]!, `${app}-a`, app), app, 9000 + i),
        podRegistration(env, pod(clusters[1]!, `${app}-b`, app), app, 9000 + i),
      ]),
    ];
    const other = podRegistration(`${env}x`, pod(clusters[0]!, "api-other", "api", `${env}x`), "api", 9000);
    for (const r of [...regs, other]) {
      await registerPod(client, r);
      written.push(r);
    }
    const critical = { ...regs[3]!, check: "critical" as const };
    await registerPod(client, critical);

    const mark = t.double?.requests.length ?? 0;
    const read = await readPodRegistrations(client, env);
    const key = (r: PodRegistration) => `${r.node} ${r.id} ${r.service} ${r.address}:${r.port} ${r.version} ${r.check}`;
    const want = regs.map((r) => (r.id === critical.id && r.node === critical.node ? critical : r)).map(key).sort();
    assert.deepEqual(read.map(key), want);
    assert.deepEqual(read.find((r) => r.id === regs[0]!.id && r.node === regs[0]!.node)?.meta, regs[0]!.meta);
    if (t.double) {
      const gets = t.double.requests.slice(mark).filter((r) => r.method === "GET").map((r) => r.path);
      const nodes = new Set(written.map((r) => r.node)).size;
      assert.equal(gets.length, 1 + 2 * nodes, gets.join("\n"));
      assert.ok(!gets.some((p) => p.startsWith("/v1/health/service/")), gets.join("\n"));
    }
  });

  it("reads at most 8 nodes at once (two requests each), however many clusters have amphi nodes", async (ctx) => {
    if (!t.double) return ctx.skip("needs the double's in-flight count");
    const env = uniqueName("e");
    const clusters = Array.from({ length: 40 }, (_, i) => uniqueName(`n${i}`));
    for (const [i, cluster] of clusters.entries()) {
      const r = podRegistration(env, { cluster, namespace: "shop", name: `api-${i}`, app: "api", env, ip: `10.8.${i}.1`, ready: true, image: "reg.example/api:1.0.0", version: null }, "api", 9000);
      await registerPod(client, r);
      written.push(r);
    }
    t.double.inFlight.max = 0;
    t.double.setQuirks({ responseDelayMs: 50 });
    const read = await readPodRegistrations(client, env).finally(() => t.double!.setQuirks({ responseDelayMs: 0 }));
    assert.equal(read.length, clusters.length);
    assert.ok(t.double.inFlight.max <= 2 * 8, `${t.double.inFlight.max} requests at once`);
  });
});
