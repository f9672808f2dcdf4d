// `amphi xds` with `state.backend: consul`: the control plane keeps no state of its own. It serves the mesh's defaults
// (and says so) while nothing was applied, then follows the applied policy in Consul KV (the key a run's
// `mesh-policy` task writes; here written through the same store, as another replica's loop would) — a real
// @grpc/grpc-js-xds client's calls move from one version to the other without a restart, and the repo's own
// `spec.traffic` is not what is served.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/cli/main.js";
import { ConsulClient, passCheck, register } from "../../src/adapters/consul/index.js";
import { ConsulMeshPolicyStore } from "../../src/adapters/state/mesh-store.js";
import type { TrafficPolicy } from "../../src/model/index.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { registrationFixture } from "../consul/helpers.js";
import { eventually } from "../server/support.js";
import { startEcho, type Echo } from "./support/echo.js";
import { XdsClientProcess } from "./support/client-process.js";
import { echoApp, meshEnvHead } from "./support/config.js";

const APP = echoApp("2.3.0");
const envFile = (consul: string) => `${meshEnvHead(consul)}  clusters:
  - name: a
    context: kind-a
  - name: b
    context: kind-b
  placements:
  - app: echo
    cluster: a
  - app: echo
    cluster: b
    overrides:
      image: registry.example.com/test/echo:2.4.0
  traffic:
    echo:
      split: {2.3.0: 100, 2.4.0: 0}
  state:
    backend: consul
    path: amphi-xds-${process.pid}
`;
const only = (version: string): TrafficPolicy => ({
  service: "echo",
  split: [{ version: "2.3.0", weight: version === "2.3.0" ? 100 : 0 }, { version: "2.4.0", weight: version === "2.4.0" ? 100 : 0 }],
  timeoutMs: null,
  retries: null,
  circuitBreaker: null,
  outlierDetection: null,
  rateLimit: null,
});

describe("amphi xds: the applied policy from Consul KV", () => {
  let repo: string;
  let consul: ConsulDouble;
  let client: ConsulClient;
  const echoes: Echo[] = [];

  before(async () => {
    consul = await startConsulDouble();
    client = new ConsulClient({ address: consul.url, token: null, datacenter: null });
    repo = mkdtempSync(join(tmpdir(), `amphi-xds-applied-${process.pid}-`));
    mkdirSync(join(repo, "apps/echo"), { recursive: true });
    mkdirSync(join(repo, "environments"));
    writeFileSync(join(repo, "apps/echo/spec.yaml"), APP);
    writeFileSync(join(repo, "environments/test.yaml"), envFile(consul.url));
    for (const [i, version] of ["2.3.0", "2.4.0"].entries()) {
      const e = await startEcho(`echo-${version}`, `127.0.0.${60 + i}`);
      echoes.push(e);
      const id = `echo-${version}-${e.port}`;
      const check = { checkId: `service:${id}`, ttl: "10m", deregisterCriticalServiceAfter: "1h", notes: "test" };
      await register(client, registrationFixture({ id, service: "echo", host: `h-${i}`, address: e.address, port: e.port, env: "test", tags: [`version:${version}`], check }));
      await passCheck(client, check.checkId, "test");
    }
  });
  after(async () => {
    await consul?.close();
    await Promise.all(echoes.map((e) => e.close()));
    rmSync(repo, { recursive: true, force: true });
  });

  it("serves the defaults until a policy is applied, then follows each applied change", async () => {
    const ac = new AbortController();
    let err = "";
    const done = run(["xds", "--repo", repo, "--env", "test", "--listen", "127.0.0.1:0"], { out: () => {}, err: (t) => void (err += t), cwd: repo, env: {} }, ac.signal);
    let grpcClient: XdsClientProcess | null = null;
    try {
      const port = await eventually(async () => {
        const m = /amphi xds: listening on 127\.0\.0\.1:(\d+) for test: 1 services, instances from \S+, applied traffic policy from consul \S+ key amphi-xds-\d+\/mesh\/test/.exec(err);
        return m ? Number(m[1]) : undefined;
      }, 20_000, `amphi xds to listen: ${err}`);
      await eventually(async () => (/serving test: registry read/.test(err) ? true : undefined), 120_000, "the registry read");
      assert.match(err, /no traffic policy applied to test yet: serving the mesh's defaults/);
      grpcClient = new XdsClientProcess(port, "grpc-client~applied");
      const defaults = await grpcClient.calls("xds:///echo:50051", 60);
      assert.deepEqual(defaults.errors, {}, grpcClient.stderr + err);
      assert.deepEqual(Object.keys(defaults.by).sort(), ["echo-2.3.0", "echo-2.4.0"], "the defaults: every passing instance (the repo's 100/0 is not applied)");

      const store = new ConsulMeshPolicyStore(client, `amphi-xds-${process.pid}`, "test");
      for (const version of ["2.4.0", "2.3.0"]) {
        await store.write({ env: "test", revision: "c".repeat(40), appliedAt: new Date().toISOString(), policies: [only(version)], apps: { echo: "echo" } });
        await eventually(async () => {
          const r = await grpcClient!.calls("xds:///echo:50051", 10);
          return r.by[`echo-${version}`] === 10 ? true : undefined;
        }, 10_000, `calls to move to ${version}`);
        const r = await grpcClient.calls("xds:///echo:50051", 40);
        assert.deepEqual(r.by, { [`echo-${version}`]: 40 });
      }
      assert.match(err, /traffic policy applied \S+ at revision cccccccccccc: echo/);
    } finally {
      await grpcClient?.close();
      ac.abort();
      assert.equal(await done, 0);
    }
    assert.match(err, /stopped: proxies=1 pushes=\d+ nacks=0/);
  });
});
