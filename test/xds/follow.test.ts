// The control plane follows the config the loop applied in everything the snapshot takes from it — services, and
// the mesh settings (domain, ports) and host groups too: after follow() with another mesh.domain, a real xDS client
// (@grpc/grpc-js-xds) reaches `xds:///echo.<new domain>:50051`. Consul double (or CONSUL_HTTP_ADDR), in process.
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { ConsulClient, deregister, passCheck, register } from "../../src/adapters/consul/index.js";
import { startControlPlane } from "../../src/cli/xds.js";
import { loadModel } from "../../src/config/index.js";
import { findEnvironment, type Model } from "../../src/model/index.js";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { registrationFixture } from "../consul/helpers.js";
import { startEcho, type Echo } from "./support/echo.js";
import { XdsClientProcess } from "./support/client-process.js";
import { ECHO_ON_DEV, echoApp, meshEnvHead } from "./support/config.js";

const env = (domain: string) => `${meshEnvHead("http://127.0.0.1:9").replace("    capture: false\n", `    capture: false\n    domain: ${domain}\n`)}${ECHO_ON_DEV}`;

describe("control plane follow()", () => {
  let repo: string;
  let consul: ConsulTestTarget;
  let client: ConsulClient;
  let echo: Echo;
  let id = "";

  async function model(domain: string): Promise<Model> {
    writeFileSync(join(repo, "environments/test.yaml"), env(domain));
    return loadModel(new DirSource(repo));
  }

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), "amphi-xds-follow-"));
    mkdirSync(join(repo, "apps/echo"), { recursive: true });
    mkdirSync(join(repo, "environments"));
    writeFileSync(join(repo, "apps/echo/spec.yaml"), echoApp("1.0.0"));
    consul = await consulTestTarget();
    client = new ConsulClient({ address: consul.url, token: consul.token ?? null, datacenter: null });
    echo = await startEcho("echo-follow", "127.0.0.43");
    id = `echo-follow-${echo.port}`;
    const check = { checkId: `service:${id}`, ttl: "10m", deregisterCriticalServiceAfter: "1h", notes: "test" };
    const reg = registrationFixture({ service: "echo", host: "follow", id, address: echo.address, port: echo.port, env: "test", check });
    await register(client, reg);
    await passCheck(client, reg.check.checkId, "test");
  });
  after(async () => {
    await deregister(client, id).catch(() => false);
    await consul?.close();
    await echo?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("rebuilds the resources when the mesh domain changes, not only apps or traffic", async () => {
    const first = await model("mesh");
    const logs: string[] = [];
    const io = { out: () => {}, err: () => {}, cwd: repo, env: {} };
    const plane = await startControlPlane(io, first, findEnvironment(first, "test"), { listen: "127.0.0.1:0", consul: consul.url, log: (l) => logs.push(l) });
    const grpcClient = new XdsClientProcess(plane.port, "grpc-client~follow");
    try {
      await plane.ready;
      const before = await grpcClient.calls("xds:///echo.mesh:50051", 3);
      assert.deepEqual(before.errors, {}, grpcClient.stderr + logs.join("\n"));
      plane.follow(await model("corp"));
      // Until the client has the new names (one call answered), then calls with the default deadline must all pass.
      const deadline = Date.now() + 30_000;
      while (!(await grpcClient.calls("xds:///echo.corp:50051", 1, 3000)).by["echo-follow"] && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      const after = await grpcClient.calls("xds:///echo.corp:50051", 3);
      assert.deepEqual(after.errors, {}, grpcClient.stderr + logs.join("\n"));
      assert.deepEqual(after.by, { "echo-follow": 3 });
      assert.ok(logs.some((l) => l.includes("mesh settings of the applied config: domain corp")), logs.join("\n"));
    } finally {
      await grpcClient.close();
      await plane.stop();
    }
  });
});
