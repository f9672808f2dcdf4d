// A minimal HostInstance for tests that need only where an app listens on a host (capture rules, sidecars):
// version 1.0.0, a placeholder package and sha256, no env, no health check, one http port per number.
import type { HostInstance } from "../../src/model/index.js";

export function testHostInstance(app: string, ports: number[], host: string, address: string, baseDir: string): HostInstance {
  return {
    app,
    env: "prod",
    hostGroup: "test",
    host,
    address,
    baseDir,
    version: "1.0.0",
    package: { path: `packages/${app}-1.0.0.tar.gz` },
    sha256: "0".repeat(64),
    start: "true",
    user: null,
    environment: {},
    secretEnv: [],
    ports: ports.map((port) => ({ name: `http-${port}`, port, protocol: "http" as const })),
    health: null,
    services: [app],
    specHash: "0".repeat(64),
    registrations: [],
  };
}
