// Mesh snapshots for the builder and strict-decode tests: plain, with a full traffic policy, and edge cases.
import type { MeshInstance, MeshSnapshot } from "../../src/mesh/index.js";
import type { TrafficPolicy } from "../../src/model/traffic.js";

/** An instance with defaults (passing, no version, locality "vms"). */
export function inst(id: string, address: string, port: number, more: Partial<MeshInstance> = {}): MeshInstance {
  return { id, address, port, version: null, locality: "vms", passing: true, ...more };
}

/** A policy with nothing set but what `more` sets. */
export function policy(service: string, more: Partial<TrafficPolicy> = {}): TrafficPolicy {
  return { service, split: [], timeoutMs: null, retries: null, circuitBreaker: null, outlierDetection: null, rateLimit: null, ...more };
}

const settings = { domain: "mesh.internal", outboundPort: 15001, inboundPort: 15006 };

/** Two services, one gRPC and one HTTP, no policy. */
export function plainSnapshot(): MeshSnapshot {
  return {
    env: "prod",
    settings,
    services: [
      {
        name: "billing",
        ports: [{ port: 9100, protocol: "grpc", instances: [inst("billing-vm-1-9100", "10.0.0.1", 9100), inst("billing-vm-2-9100", "10.0.0.2", 9100, { passing: false })] }],
        policy: null,
      },
      { name: "web", ports: [{ port: 8080, protocol: "http", instances: [inst("web-vm-1-8080", "10.0.0.1", 8080)] }], policy: null },
    ],
  };
}

/** One gRPC service over two versions and two localities, with every policy part set. */
export function policySnapshot(): MeshSnapshot {
  return {
    env: "prod",
    settings,
    services: [
      {
        name: "billing",
        ports: [
          {
            port: 9100,
            protocol: "grpc",
            instances: [
              inst("billing-pod-b", "10.1.0.7", 9100, { version: "2.4.0", locality: "kube-a" }),
              inst("billing-vm-1-9100", "10.0.0.1", 9100, { version: "2.3.0" }),
              inst("billing-vm-2-9100", "10.0.0.2", 9100, { version: "2.3.0" }),
              inst("billing-pod-a", "10.1.0.6", 9100, { version: "2.3.0", locality: "kube-a", passing: false }),
            ],
          },
        ],
        policy: policy("billing", {
          split: [
            { version: "2.3.0", weight: 90 },
            { version: "2.4.0", weight: 10 },
          ],
          timeoutMs: 1500,
          retries: { attempts: 2, perTryTimeoutMs: 500, on: ["unavailable", "5xx", "connect-failure"] },
          circuitBreaker: { maxConnections: 100, maxPendingRequests: null, maxRequests: 50 },
          outlierDetection: { consecutive5xx: 5, ejectionTimeMs: 30000, intervalMs: 10000, maxEjectionPercent: 50 },
          rateLimit: { requests: 100, intervalMs: 1000, burst: 20 },
        }),
      },
    ],
  };
}

/** Edge cases: no instances at all, a split with a zero weight, zero retries, a version nobody runs, an address
 * registered twice, a host name instead of an IP. */
export function edgeSnapshot(): MeshSnapshot {
  return {
    env: "staging",
    settings,
    services: [
      { name: "empty", ports: [{ port: 7000, protocol: "grpc", instances: [] }], policy: null },
      {
        name: "pay",
        ports: [
          { port: 9000, protocol: "grpc", instances: [inst("pay-1", "10.0.0.9", 9000, { version: "1.0.0" }), inst("pay-1-again", "10.0.0.9", 9000, { version: "1.0.0" }), inst("pay-by-name", "node-7.example", 9000, { version: "1.0.0" })] },
          { port: 9001, protocol: "tcp", instances: [inst("pay-1-tcp", "10.0.0.9", 9001)] },
        ],
        policy: policy("pay", {
          split: [
            { version: "1.0.0", weight: 100 },
            { version: "1.1.0", weight: 0 },
          ],
          retries: { attempts: 0, perTryTimeoutMs: null, on: ["5xx"] },
          circuitBreaker: { maxConnections: null, maxPendingRequests: 10, maxRequests: null },
        }),
      },
    ],
  };
}
