// `amphi xds`: the command in-process against the Consul double (a real Consul when CONSUL_HTTP_ADDR is set), with a real xDS client (@grpc/grpc-js-xds in a
// child process) calling real gRPC servers registered as instances: passing instances only, a check that fails
// in Consul stops the calls to its instance (time measured and printed, not asserted), bad --listen, clean stop.
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { run } from "../../src/cli/main.js";
import { ConsulClient, deregister, failCheck, passCheck, register } from "../../src/adapters/consul/index.js";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { registrationFixture } from "../consul/helpers.js";
import { startEcho, type Echo } from "./support/echo.js";
import { XdsClientProcess } from "./support/client-process.js";
import { ECHO_ON_DEV, echoApp, meshEnvHead } from "./support/config.js";
import { startListening, type Listening } from "../support/cli.js";

const APP = echoApp("1.0.0");
const ENV = `${meshEnvHead("http://127.0.0.1:9")}${ECHO_ON_DEV}`;

/** Starts `amphi xds` in-process; resolves with its port once it logged the start line. */
function startXds(args: string[]): Promise<Listening> {
  // In the temp repo (the --repo after "--repo"): its state (.amphi/mesh/test.*) is this file's alone.
  return startListening("xds", args, {}, args[args.indexOf("--repo") + 1]);
}

describe("amphi xds", () => {
  let repo: string;
  let consul: ConsulTestTarget;
  const ids: string[] = [];
  let client: ConsulClient;
  const echoes: Echo[] = [];

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), "amphi-xds-cli-"));
    mkdirSync(join(repo, "apps/echo"), { recursive: true });
    mkdirSync(join(repo, "environments"));
    writeFileSync(join(repo, "apps/echo/spec.yaml"), APP);
    writeFileSync(join(repo, "environments/test.yaml"), ENV);
    consul = await consulTestTarget();
    client = new ConsulClient({ address: consul.url, token: consul.token ?? null, datacenter: null });
    for (const [i, host] of ["vm-1", "vm-2", "vm-3"].entries()) {
      const e = await startEcho(`echo-${host}`, `127.0.0.${30 + i}`);
      echoes.push(e);
      // A long TTL: this suite does not refresh checks, and under load it can outlast a short one.
      const id = `echo-${host}-${e.port}`;
      const check = { checkId: `service:${id}`, ttl: "10m", deregisterCriticalServiceAfter: "1h", notes: "test" };
      const reg = registrationFixture({ service: "echo", host, address: e.address, port: e.port, env: "test", check });
      await register(client, reg);
      ids.push(reg.id);
      if (host !== "vm-3") await passCheck(client, reg.check.checkId, "test");
    }
  });
  after(async () => {
    // a real Consul keeps what a test registered: take it out
    for (const id of ids) await deregister(client, id).catch(() => false);
    await consul?.close();
    await Promise.all(echoes.map((e) => e.close()));
    rmSync(repo, { recursive: true, force: true });
  });

  it("serves the passing instances from Consul and follows a failing check (measured)", async () => {
    const xds = await startXds(["--repo", repo, "--env", "test", "--listen", "127.0.0.1:0", "--consul", consul.url]);
    const grpcClient = new XdsClientProcess(xds.port, "grpc-client~cli");
    try {
      await grpcClient.warm("xds:///echo:50051");
      const r = await grpcClient.calls("xds:///echo:50051", 40);
      assert.deepEqual(r.errors, {}, grpcClient.stderr + xds.err());
      assert.deepEqual(Object.keys(r.by).sort(), ["echo-vm-1", "echo-vm-2"], "vm-3's check never passed");
      // Calls one after the other from before the check fails until 10 in a row went to vm-1 (round robin over two
      // instances never does that): the failover is waited for, not assumed within a fixed 4 s watch (which, on a
      // loaded machine, could end before it and then checked nothing). 120 s is a safety net only.
      const target = "xds:///echo:50051";
      // Each call's deadline as calls()' (10 s): a safety net; the 2 s default failed calls on a loaded machine.
      const watching = grpcClient.watch(target, 1000, 10_000);
      const t0 = Date.now();
      await failCheck(client, "service:echo-vm-2-" + echoes[1]!.port, "test: down");
      const log = [...(await watching).log];
      const settled = () => log.length >= 10 && log.slice(-10).every(([, s]) => s === "echo-vm-1");
      for (const end = Date.now() + 120_000; !settled() && Date.now() < end; ) log.push(...(await grpcClient.watch(target, 1000, 10_000)).log);
      assert.ok(settled(), `calls still reach echo-vm-2 (or fail): ${JSON.stringify(log.slice(-10))}`);
      const hits = log.filter(([, s]) => s === "echo-vm-2").map(([t]) => t);
      const lastHit = hits.length > 0 ? Math.max(...hits) : t0;
      const ms = Math.max(0, lastHit - t0);
      console.log(`# consul → xds failover: last call to the failed instance ${ms} ms after its check failed in Consul (${log.length} calls watched)`);
      // (That vm-2 took calls before is shown by the first 40 calls: under load the watch may start late.)
      const failed = log.filter(([, s]) => s.startsWith("!"));
      assert.deepEqual(failed.map(([t, s]) => `${t - t0} ms: ${s}`).slice(0, 5), [], `no call failed during the change (${failed.length} did)`);
      assert.ok(log.filter(([t]) => t > lastHit).every(([, s]) => s === "echo-vm-1"), "once gone, vm-2 gets no call again");
      assert.match(xds.err(), /amphi xds: listening on 127\.0\.0\.1:\d+ for test: 1 services, instances from http:\/\/127\.0\.0\.1:\d+/);
      assert.match(xds.err(), /serving test: registry read/);
    } finally {
      await grpcClient.close();
      assert.equal(await xds.stop(), 0);
    }
    assert.match(xds.err(), /stopped: proxies=1 pushes=\d+ nacks=0/);
  });

  it("serves /metrics and /healthz with --metrics-listen", async () => {
    const xds = await startXds(["--repo", repo, "--env", "test", "--listen", "127.0.0.1:0", "--consul", consul.url, "--metrics-listen", "127.0.0.1:0"]);
    const grpcClient = new XdsClientProcess(xds.port, "grpc-client~metrics");
    try {
      const deadline = Date.now() + 10_000;
      while (!/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(xds.err()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const base = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(xds.err())?.[1];
      assert.ok(base, xds.err());
      await grpcClient.warm("xds:///echo:50051");
      const r = await grpcClient.calls("xds:///echo:50051", 5);
      assert.deepEqual(r.errors, {}, grpcClient.stderr + xds.err());
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(await health.text(), "ok\n");
      const metrics = await fetch(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      assert.match(text, /^amphi_xds_connected_proxies\{env="test"\} 1$/m);
      assert.match(text, /^amphi_xds_pushes_total\{env="test",type="endpoint"\} [1-9]\d*$/m);
      assert.match(text, /^amphi_xds_nacks_total\{env="test",type="cluster"\} 0$/m);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
    } finally {
      await grpcClient.close();
      assert.equal(await xds.stop(), 0);
    }
  });

  it("refuses a --metrics-listen that is not ADDR:PORT", async () => {
    let err = "";
    const code = await run(["xds", "--repo", repo, "--env", "test", "--listen", "127.0.0.1:0", "--metrics-listen", "9090"], { out: () => {}, err: (t) => (err += t), cwd: process.cwd(), env: {} });
    assert.equal(code, 1);
    assert.match(err, /--metrics-listen must be ADDR:PORT \(e\.g\. 127\.0\.0\.1:15010\), not "9090"/);
  });

  it("refuses a --listen that is not ADDR:PORT", async () => {
    let err = "";
    const code = await run(["xds", "--repo", repo, "--env", "test", "--listen", "15010"], { out: () => {}, err: (t) => (err += t), cwd: process.cwd(), env: {} });
    assert.equal(code, 1);
    assert.match(err, /--listen must be ADDR:PORT \(e\.g\. 127\.0\.0\.1:15010\), not "15010"/);
  });
});
