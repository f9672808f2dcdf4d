// DiscoveryRequests decoded with shared name lists (src/adapters/xds/requests.ts): the same fields as the plain
// decoder, and one list (the same array) for every request naming the same resources.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { adsPackageDefinition, envoyRoot } from "../../src/adapters/xds/protos.js";
import { sharedNamesDeserializer } from "../../src/adapters/xds/requests.js";
import { TYPE_URL } from "../../src/mesh/index.js";

const method = (grpc.loadPackageDefinition(adsPackageDefinition()) as any).envoy.service.discovery.v3.AggregatedDiscoveryService.service.StreamAggregatedResources;
const Request = envoyRoot().lookupType("envoy.service.discovery.v3.DiscoveryRequest");
const encode = (req: object) => Buffer.from(Request.encode(Request.fromObject(req)).finish());

describe("shared-names DiscoveryRequest decoding", () => {
  const decode = sharedNamesDeserializer(method.requestDeserialize as (b: Buffer) => any);
  const names = Array.from({ length: 50 }, (_, i) => `outbound|${9000 + i}||svc-${i}`);
  const req = (nonce: string, n: string[]) => ({ node: { id: "sidecar~e~a~1" }, type_url: TYPE_URL.endpoint, version_info: "v1", response_nonce: nonce, resource_names: n, error_detail: { code: 3, message: "bad" } });

  it("decodes every field as the plain decoder does", () => {
    for (const r of [req("1", names), req("2", []), req("3", ["only", "ünïcode"])]) {
      assert.deepEqual(decode(encode(r)), method.requestDeserialize(encode(r)));
    }
  });

  it("gives requests naming the same resources one shared list, and other names their own", () => {
    const a = decode(encode(req("1", names)));
    const b = decode(encode(req("2", names)));
    assert.equal(a.resource_names, b.resource_names, "the same array");
    assert.equal(a.response_nonce, "1");
    assert.equal(b.response_nonce, "2");
    const c = decode(encode(req("3", names.slice(1))));
    assert.notEqual(c.resource_names, a.resource_names);
    assert.deepEqual(c.resource_names, names.slice(1));
  });
});
