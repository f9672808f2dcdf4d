// Property: for the example repo and 25 random repos, with random registry entries (passing or not, versions,
// clusters and host groups) and random traffic policies, every resource the control plane emits decodes strictly
// against Envoy's API protos and encodes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadModel } from "../../src/config/index.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { encodeResource, envoyRoot } from "../../src/adapters/xds/protos.js";
import {
  buildResources, declaredServices, hostGroupsOf, meshSettings, meshSnapshot, RESOURCE_KINDS, TYPE_URL, type RegisteredInstance, type ServiceDecl,
} from "../../src/mesh/index.js";
import type { Model } from "../../src/model/index.js";
import { RETRY_ON, type TrafficPolicy } from "../../src/model/traffic.js";
import { prng, writeRandomRepo } from "../support/random-repo.js";
import { policy } from "../mesh/snapshots.js";
import { strictCheck } from "./support/strict.js";

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const maybe = <T>(r: Rand, v: () => T): T | null => (r() < 0.5 ? v() : null);
const VERSIONS = ["1.0.0", "1.1.0", "2.0.0-rc.1"];

function randomPolicy(r: Rand, service: string): TrafficPolicy {
  const split = r() < 0.5 ? [] : ((w) => [{ version: "1.0.0", weight: w }, { version: "1.1.0", weight: 100 - w }])(int(r, 0, 100));
  return policy(service, {
    split,
    timeoutMs: maybe(r, () => int(r, 1, 120_000)),
    retries: maybe(r, () => ({ attempts: int(r, 0, 5), perTryTimeoutMs: maybe(r, () => int(r, 1, 10_000)), on: RETRY_ON.filter(() => r() < 0.4) })),
    circuitBreaker: maybe(r, () => ({ maxConnections: maybe(r, () => int(r, 1, 10_000)), maxPendingRequests: maybe(r, () => int(r, 0, 10_000)), maxRequests: maybe(r, () => int(r, 1, 10_000)) })),
    outlierDetection: maybe(r, () => ({ consecutive5xx: int(r, 1, 50), ejectionTimeMs: int(r, 1, 600_000), intervalMs: int(r, 1, 60_000), maxEjectionPercent: int(r, 0, 100) })),
    rateLimit: maybe(r, () => ({ requests: int(r, 1, 10_000), intervalMs: int(r, 50, 600_000), burst: int(r, 1, 10_000) })),
  });
}

function randomEntries(r: Rand, s: ServiceDecl, hosts: string[]): RegisteredInstance[] {
  return Array.from({ length: int(r, 0, 4) }, (_, i): RegisteredInstance => {
    const port = r() < 0.9 ? s.ports[int(r, 0, s.ports.length - 1)]!.port : int(r, 1024, 65535);
    const onHost = r() < 0.5 && hosts.length > 0;
    return {
      id: `${s.name}-${i}`,
      address: `10.${int(r, 0, 3)}.${int(r, 0, 255)}.${int(r, 1, 254)}`,
      port,
      tags: r() < 0.8 ? [`version:${VERSIONS[int(r, 0, 2)]}`] : [],
      meta: (onHost ? { "amphi-host": hosts[int(r, 0, hosts.length - 1)]! } : r() < 0.5 ? { "amphi-cluster": "dev" } : {}) as Record<string, string>,
      passing: r() < 0.7,
    };
  });
}

function checkModel(model: Model, seed: number): void {
  const r = prng(seed);
  for (const env of model.environments) {
    const services = declaredServices(model, env);
    const hosts = env.hostGroups.flatMap((g) => g.hosts.map((h) => h.name));
    const snapshot = meshSnapshot({
      env: env.name,
      settings: meshSettings(env.mesh),
      services,
      policies: services.filter(() => r() < 0.6).map((s) => randomPolicy(r, s.name)),
      instances: new Map(services.map((s) => [s.name, randomEntries(r, s, hosts)])),
      hostGroups: hostGroupsOf(env),
    });
    const res = buildResources(snapshot);
    for (const kind of RESOURCE_KINDS) {
      const type = TYPE_URL[kind].slice(TYPE_URL[kind].lastIndexOf("/") + 1);
      for (const x of res[kind]) {
        assert.deepEqual(strictCheck(envoyRoot(), type, x.body), [], `seed ${seed} env ${env.name} ${kind} ${x.name}`);
        assert.ok(encodeResource(TYPE_URL[kind], x.body).length > 0);
      }
    }
    for (const [app, x] of res.inboundByApp) {
      assert.deepEqual(strictCheck(envoyRoot(), "envoy.config.listener.v3.Listener", x.body), [], `seed ${seed} env ${env.name} inbound listener of ${app}`);
      assert.ok(encodeResource(TYPE_URL.listener, x.body).length > 0);
    }
  }
}

test("every resource for the example repo and 25 random repos decodes strictly against the Envoy protos", async () => {
  checkModel(await loadModel(new DirSource(EXAMPLE_REPO)), 1);
  for (let i = 0; i < 25; i++) {
    const seed = 500 + i * 104729;
    const dir = mkdtempSync(join(tmpdir(), `amphi-xds-prop-${process.pid}-`));
    try {
      writeRandomRepo(dir, seed);
      checkModel(await loadModel(new DirSource(dir)), seed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
