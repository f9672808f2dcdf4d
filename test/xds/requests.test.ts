// DiscoveryRequests decoded with shared name lists and DiscoveryResponses encoded with shared bodies
// (src/adapters/xds/requests.ts): the same messages as the plain decoder and encoder give, shared where meant.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { adsPackageDefinition, envoyRoot } from "../../src/adapters/xds/protos.js";
import { sharedBodySerializer, sharedNamesDeserializer } from "../../src/adapters/xds/requests.js";
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

describe("shared-body DiscoveryResponse encoding", () => {
  it("encodes what the plain serializer does, per nonce, with the body encoded once per resources array", () => {
    let calls = 0;
    const counting = (m: any) => (calls++, method.responseSerialize(m) as Buffer);
    const encode = sharedBodySerializer(counting);
    const resources = [1, 2, 3].map((i) => ({ type_url: TYPE_URL.endpoint, value: Buffer.from([10, 1, 48 + i]) }));
    for (const nonce of ["1", "2", "17"]) {
      const msg = { version_info: "abc", type_url: TYPE_URL.endpoint, nonce, resources };
      assert.deepEqual(method.responseDeserialize(encode(msg)), method.responseDeserialize(method.responseSerialize(msg)));
    }
    assert.equal(calls, 1 + 3, "the body once, then only the nonces");
    const other = { version_info: "def", type_url: TYPE_URL.endpoint, nonce: "4", resources: [...resources] };
    assert.deepEqual(method.responseDeserialize(encode(other)), method.responseDeserialize(method.responseSerialize(other)));
  });
});
