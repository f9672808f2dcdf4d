// The control plane's Prometheus text (src/server/xds-metrics.ts) from a real ADS server's status: bare ADS clients
// connect, ACK and NACK, and the figures follow; the format itself (families, labels, histogram buckets).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdsServer, PUSH_LATENCY_BUCKETS_MS } from "../../src/adapters/xds/index.js";
import { TYPE_URL } from "../../src/mesh/index.js";
import { renderXdsMetrics } from "../../src/server/xds-metrics.js";
import { RawAds } from "./support/raw-ads.js";
import { plainSnapshot, policySnapshot } from "../mesh/snapshots.js";

/** The value of the sample `name{labels}` in `text`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("xDS metrics", () => {
  const server = new AdsServer();
  let port = 0;
  const clients: RawAds[] = [];

  before(async () => {
    port = await server.listen("127.0.0.1:0");
    server.setSnapshot(plainSnapshot());
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  it("starts at zero with every family and type present", () => {
    const text = renderXdsMetrics(server.status(), "prod");
    assert.equal(sample(text, 'amphi_xds_connected_proxies{env="prod"}'), 0);
    for (const type of ["cluster", "endpoint", "listener", "route"]) {
      assert.equal(sample(text, `amphi_xds_pushes_total{env="prod",type="${type}"}`), 0);
      assert.equal(sample(text, `amphi_xds_nacks_total{env="prod",type="${type}"}`), 0);
    }
    assert.match(text, /^# TYPE amphi_xds_push_latency_seconds histogram$/m);
    assert.equal(sample(text, 'amphi_xds_push_latency_seconds_bucket{env="prod",le="+Inf"}'), 0);
    assert.equal(sample(text, 'amphi_xds_snapshots_total{env="prod"}'), 1);
  });

  it("counts connected proxies, pushes, ACKs and NACKs per type, and push latency, as proxies answer", async () => {
    const a = new RawAds(port, "sidecar~a");
    const b = new RawAds(port, "sidecar~b");
    clients.push(a, b);
    a.send(TYPE_URL.cluster, []);
    b.send(TYPE_URL.cluster, []);
    const ra = await a.next();
    const rb = await b.next();
    a.send(TYPE_URL.cluster, [], { version: ra.version_info, nonce: ra.nonce });
    b.send(TYPE_URL.cluster, [], { version: rb.version_info, nonce: rb.nonce });
    await until(() => server.status().counters.acks === 2, "two ACKs");
    // A change: both get the new clusters; a ACKs, b NACKs.
    server.setSnapshot(policySnapshot());
    const ra2 = await a.next();
    const rb2 = await b.next();
    a.send(TYPE_URL.cluster, [], { version: ra2.version_info, nonce: ra2.nonce });
    b.send(TYPE_URL.cluster, [], { version: rb.version_info, nonce: rb2.nonce, error: "rejected" });
    await until(() => server.status().counters.acks === 3 && server.status().counters.nacks === 1, "an ACK and a NACK");
    const text = renderXdsMetrics(server.status(), "prod");
    assert.equal(sample(text, 'amphi_xds_connected_proxies{env="prod"}'), 2);
    assert.equal(sample(text, 'amphi_xds_streams{env="prod"}'), 2);
    assert.equal(sample(text, 'amphi_xds_proxies_nacking{env="prod"}'), 1);
    assert.equal(sample(text, 'amphi_xds_pushes_total{env="prod",type="cluster"}'), 4);
    assert.equal(sample(text, 'amphi_xds_acks_total{env="prod",type="cluster"}'), 3);
    assert.equal(sample(text, 'amphi_xds_nacks_total{env="prod",type="cluster"}'), 1);
    assert.equal(sample(text, 'amphi_xds_nacks_total{env="prod",type="listener"}'), 0);
    // Only the push a change caused is in the histogram: the answers to the two first connects are no pushes.
    assert.equal(sample(text, 'amphi_xds_push_latency_seconds_count{env="prod"}'), 1);
    assert.equal(sample(text, 'amphi_xds_push_latency_seconds_bucket{env="prod",le="+Inf"}'), 1);
    // Buckets are cumulative: never decreasing, and the largest holds every ACK under 10 s.
    const buckets = PUSH_LATENCY_BUCKETS_MS.map((b) => sample(text, `amphi_xds_push_latency_seconds_bucket{env="prod",le="${b / 1000}"}`)!);
    assert.ok(buckets.every((n, i) => i === 0 || n >= buckets[i - 1]!), JSON.stringify(buckets));
    assert.equal(buckets[buckets.length - 1], 1);
    assert.ok(sample(text, 'amphi_xds_push_latency_seconds_sum{env="prod"}')! >= 0);
    // A proxy that goes away is no longer connected.
    b.close();
    await until(() => server.status().streams === 1, "b's stream to close");
    assert.equal(sample(renderXdsMetrics(server.status(), "prod"), 'amphi_xds_connected_proxies{env="prod"}'), 1);
  });

  it("escapes label values", () => {
    const text = renderXdsMetrics(server.status(), 'a"b\\c');
    assert.match(text, /^amphi_xds_connected_proxies\{env="a\\"b\\\\c"\} \d+$/m);
  });
});
