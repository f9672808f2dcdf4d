// Services that register themselves in Consul (no app of the config repo declares them, as a Spring Cloud Consul
// app does) are mesh destinations: `amphi xds` against the Consul double (a real Consul with CONSUL_HTTP_ADDR) and
// a real xDS client (@grpc/grpc-js-xds in a child process) reaching a gRPC server that registered itself after the
// control plane started; a self-registered tcp service on a declared port is skipped with a named warning, and
// nothing crashes.
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConsulClient } from "../../src/adapters/consul/index.js";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { startListening } from "../support/cli.js";
import { uniqueName } from "../consul/helpers.js";
import { startEcho, type Echo } from "./support/echo.js";
import { XdsClientProcess } from "./support/client-process.js";
import { ECHO_ON_DEV, echoApp, meshEnvHead } from "./support/config.js";

const ENV = `${meshEnvHead("http://127.0.0.1:9")}${ECHO_ON_DEV}`;

describe("amphi xds: self-registered services", () => {
  let repo: string;
  let consul: ConsulTestTarget;
  let client: ConsulClient;
  const ids: string[] = [];
  const echoes: Echo[] = [];

  /** Registers a service through the agent as an app would itself: no `amphi` tag, a passing TTL check. */
  async function selfRegister(name: string, id: string, address: string, port: number, meta: Record<string, string>): Promise<void> {
    await client.put("/v1/agent/service/register", {
      body: { ID: id, Name: name, Address: address, Port: port, Tags: ["spring-cloud"], Meta: meta, Check: { CheckID: `service:${id}`, TTL: "10m", Status: "passing" } },
    });
    ids.push(id);
  }

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), "amphi-xds-self-"));
    mkdirSync(join(repo, "apps/echo"), { recursive: true });
    mkdirSync(join(repo, "environments"));
    writeFileSync(join(repo, "apps/echo/spec.yaml"), echoApp("1.0.0"));
    writeFileSync(join(repo, "environments/test.yaml"), ENV);
    consul = await consulTestTarget();
    client = new ConsulClient({ address: consul.url, token: consul.token ?? null, datacenter: null });
  });
  after(async () => {
    for (const id of ids) await client.put(`/v1/agent/service/deregister/${encodeURIComponent(id)}`).catch(() => {});
    await consul?.close();
    await Promise.all(echoes.map((e) => e.close()));
    rmSync(repo, { recursive: true, force: true });
  });

  it("routes a gRPC client to a service that registered itself after the start; a colliding tcp one is skipped with a warning", async () => {
    const ledger = uniqueName("ledger");
    const legacy = uniqueName("legacy");
    // Run in the temp repo: its state (.amphi/mesh/test.*) is this test's, not shared with test/xds/cli (also env "test").
    const xds = await startListening("xds", ["--repo", repo, "--env", "test", "--listen", "127.0.0.1:0", "--consul", consul.url], {}, repo);
    const grpcClient = new XdsClientProcess(xds.port, "grpc-client~self");
    try {
      const e = await startEcho(`${ledger}-1`, "127.0.0.41");
      echoes.push(e);
      await selfRegister(ledger, `${ledger}-1`, e.address, e.port, { protocol: "grpc", version: "7" });
      // No protocol meta: tcp, on the port of the declared grpc service echo: cannot be told apart, skipped.
      await selfRegister(legacy, `${legacy}-1`, "127.0.0.42", 50051, {});
      // In order, each an event awaited with a generous deadline as a safety net: the control plane has read both
      // registrations (the warning: it sends no further change after it), the client has that config (one call
      // answered), then calls with the default deadline must all pass. (The calls used to start before the
      // control plane had read the second registration: its new snapshot reached the client mid-calls, and on a
      // loaded machine one call ran past its 10 s deadline.)
      const deadline = Date.now() + 120_000;
      const warning = `mesh: self-registered service "${legacy}" (tcp, port 50051) collides with service "echo" (grpc) on port 50051: port skipped`;
      while (!xds.err().includes(warning) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      assert.ok(xds.err().includes(warning), xds.err());
      while (!(await grpcClient.warm(`xds:///${ledger}:${e.port}`, 30_000)).by[`${ledger}-1`] && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      const r = await grpcClient.calls(`xds:///${ledger}:${e.port}`, 5);
      assert.deepEqual(r.errors, {}, `call times ${r.ms.join(", ")} ms\n${grpcClient.stderr}${xds.err()}`);
      assert.deepEqual(r.by, { [`${ledger}-1`]: 5 });
    } finally {
      await grpcClient.close();
      assert.equal(await xds.stop(), 0, xds.err());
    }
  });
});
