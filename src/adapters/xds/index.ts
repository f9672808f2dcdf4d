// xDS control plane adapter: a MeshSnapshot in, served over gRPC ADS (state of the world) to Envoy sidecars and
// proxyless gRPC clients; per-node ACK/NACK state and counters out (for /metrics and drift).
export { AdsServer, type AdsServerOptions } from "./server.js";
export { envoyRoot, encodeResource, protoIncludeDirs, RESOURCE_PROTOS } from "./protos.js";
export { PUSH_LATENCY_BUCKETS_MS, type KindCounters, type NodeState, type NodeTypeState, type XdsCounters, type XdsStatus } from "./state.js";
