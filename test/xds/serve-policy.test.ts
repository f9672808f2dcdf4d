// `amphi serve --xds-listen`: the loop and the control plane in one process. Real gRPC servers of two versions are
// instances in the Consul double, the clusters are the kube-apiserver double (real kubectl), a real proxyless client
// (@grpc/grpc-js-xds in a child process) calls `xds:///echo:50051`. The control plane serves the mesh's defaults
// until the first run applies the policy; committing a split change to the config repo then moves the client's
// calls from 2.3.0 to 2.4.0 through a run whose only task is the policy (no deploy, no kubectl apply).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsulClient, passCheck, register } from "../../src/adapters/consul/index.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { registrationFixture } from "../consul/helpers.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { skipWithoutKubectl, uniqueNamespace } from "../kube/support.js";
import { commitAll, initRepo } from "../support/git-repo.js";
import { eventually, http, serve, type Serving } from "../server/support.js";
import { run } from "../../src/cli/main.js";
import { startEcho, type Echo } from "./support/echo.js";
import { XdsClientProcess } from "./support/client-process.js";
import { echoApp, meshEnvHead } from "./support/config.js";

const APP = echoApp("2.3.0");

function envFile(consul: string, ns: [string, string], split: string): string {
  return `${meshEnvHead(consul)}  clusters:
  - name: eu1
    context: xds-a
    namespace: ${ns[0]}
  - name: eu2
    context: xds-b
    namespace: ${ns[1]}
  placements:
  - app: echo
    cluster: eu1
  - app: echo
    cluster: eu2
    overrides:
      image: registry.example.com/test/echo:2.4.0
  traffic:
    echo:
      split: ${split}
      timeout: 5s
  status:
    provider: none
`;
}

describe("amphi serve --xds-listen: a policy commit moves the traffic without a deploy", { skip: skipWithoutKubectl() }, () => {
  let dir: string;
  let consul: ConsulDouble;
  let kubeApi: KubeApiDouble;
  let kube: TempKubeconfig;
  const echoes: Echo[] = [];
  const ns: [string, string] = [uniqueNamespace("xds-a"), uniqueNamespace("xds-b")];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `amphi-serve-xds-${process.pid}-`));
    consul = await startConsulDouble();
    kubeApi = await startKubeApiServer({ autoReady: true });
    kube = writeKubeconfig([{ name: "xds-a", server: kubeApi.url }, { name: "xds-b", server: kubeApi.url }]);
    const client = new ConsulClient({ address: consul.url, token: null, datacenter: null });
    // Two versions side by side, as the two placements run them (pods are not in Consul yet: registered here,
    // without amphi's tag, so the loop's registry runtime leaves them alone).
    for (const [i, version] of ["2.3.0", "2.4.0"].entries()) {
      const e = await startEcho(`echo-${version}`, `127.0.0.${50 + i}`);
      echoes.push(e);
      const id = `echo-${version}-${e.port}`;
      const check = { checkId: `service:${id}`, ttl: "10m", deregisterCriticalServiceAfter: "1h", notes: "test" };
      await register(client, registrationFixture({ id, service: "echo", host: `pod-${i}`, address: e.address, port: e.port, env: "test", tags: [`version:${version}`], check }));
      await passCheck(client, check.checkId, "test");
    }
    const e2 = await startEcho("echo2-1.0.0", "127.0.0.52");
    echoes.push(e2);
    const check2 = { checkId: `service:echo2-${e2.port}`, ttl: "10m", deregisterCriticalServiceAfter: "1h", notes: "test" };
    await register(client, registrationFixture({ id: `echo2-${e2.port}`, service: "echo2", host: "pod-2", address: e2.address, port: e2.port, env: "test", tags: ["version:2.3.0"], check: check2 }));
    await passCheck(client, check2.checkId, "test");
    mkdirSync(join(dir, "apps/echo"), { recursive: true });
    mkdirSync(join(dir, "environments"));
    writeFileSync(join(dir, "apps/echo/spec.yaml"), APP);
    writeFileSync(join(dir, "environments/test.yaml"), envFile(consul.url, ns, "{2.3.0: 100, 2.4.0: 0}"));
    writeFileSync(join(dir, ".gitignore"), ".amphi/\n");
    await initRepo(dir);
    await commitAll(dir, "echo 2.3.0 and 2.4.0, all calls to 2.3.0");
  });
  after(async () => {
    await consul?.close();
    await kubeApi?.close();
    kube?.cleanup();
    await Promise.all(echoes.map((e) => e.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the defaults until the first run, then the applied split; a split commit moves the calls with only a mesh-policy task", async () => {
    const srv: Serving = await serve(
      ["--repo", dir, "--env", "test", "--listen", "127.0.0.1:0", "--xds-listen", "127.0.0.1:0", "--interval", "1h", "--kubeconfig", kube.path],
      dir,
      { ...process.env, ...kube.env },
    );
    let grpcClient: XdsClientProcess | null = null;
    try {
      const first = await eventually(async () => {
        const r = await http(`${srv.url}/v1/runs?env=test`);
        const run = r.body?.[0];
        return run && ["succeeded", "failed"].includes(run.state) ? run : undefined;
      }, 60_000, "the first run");
      assert.equal(first.state, "succeeded", srv.log());
      const kinds = (run: { tasks: { kind: string }[] }) => [...new Set(run.tasks.map((t) => t.kind))].sort();
      assert.deepEqual(kinds(first), ["k8s-apply", "mesh-policy"]);
      assert.match(srv.log(), /amphi xds: no traffic policy applied to test yet: serving the mesh's defaults/);
      assert.match(srv.log(), new RegExp(`amphi xds: traffic policy applied \\S+ at revision ${first.revision.slice(0, 12)}: echo`));

      const port = Number(/amphi xds: listening on 127\.0\.0\.1:(\d+) for test/.exec(srv.log())![1]);
      grpcClient = new XdsClientProcess(port, "grpc-client~serve-xds");
      await grpcClient.warm("xds:///echo:50051");
      const before = await grpcClient.calls("xds:///echo:50051", 40);
      assert.deepEqual(before.errors, {}, grpcClient.stderr + srv.log());
      assert.deepEqual(before.by, { "echo-2.3.0": 40 }, "100/0: every call to 2.3.0");

      writeFileSync(join(dir, "environments/test.yaml"), envFile(consul.url, ns, "{2.3.0: 0, 2.4.0: 100}"));
      const sha = await commitAll(dir, "all calls to 2.4.0");
      // Calls (each with calls()' 10 s deadline) from before the commit; continued below until one reaches 2.4.0.
      const watching = grpcClient.watch("xds:///echo:50051", 10_000, 10_000);
      // The repo watch starts the cycle; a POST asks for it too (409 when the watch was first).
      const post = await http(`${srv.url}/v1/runs`, { method: "POST", body: JSON.stringify({ env: "test" }) });
      assert.ok([202, 409].includes(post.status), post.text);
      const second = await eventually(async () => {
        const r = await http(`${srv.url}/v1/runs?env=test`);
        const run = (r.body ?? []).find((x: { revision: string; state: string }) => x.revision === sha && ["succeeded", "failed"].includes(x.state));
        return run ?? undefined;
      }, 60_000, "the run of the split commit");
      assert.equal(second.state, "succeeded", srv.log());
      assert.deepEqual(kinds(second), ["mesh-policy"], "no deploy, no kubectl apply: the policy alone");
      // Watched until a call reaches 2.4.0 (the run can outlast the first 10 s on a loaded machine); 120 s after the
      // run is a safety net only. The push's latency is printed, not asserted (a < 5 s bound is a load test).
      const log = [...(await watching).log];
      for (const end = Date.now() + 120_000; !log.some(([, s]) => s === "echo-2.4.0") && Date.now() < end; ) {
        log.push(...(await grpcClient.watch("xds:///echo:50051", 1000, 10_000)).log);
      }
      const appliedAt = Date.parse(second.tasks[0].endedAt);
      const firstNew = log.find(([, s]) => s === "echo-2.4.0");
      assert.ok(firstNew, `no call reached 2.4.0 while watching: ${JSON.stringify(log.slice(-5))}`);
      const ms = firstNew[0] - appliedAt;
      console.log(`# apply → push: first call on 2.4.0 ${ms} ms after the mesh-policy task ended`);
      const after = await grpcClient.calls("xds:///echo:50051", 40);
      assert.deepEqual(after.by, { "echo-2.4.0": 40 }, "0/100: every call to 2.4.0");
      assert.deepEqual(log.filter(([, s]) => s.startsWith("!")), [], "no call failed during the change");

      // A new app: the control plane serves its service once a run applied the config that declares it.
      mkdirSync(join(dir, "apps/echo2"), { recursive: true });
      writeFileSync(join(dir, "apps/echo2/spec.yaml"), APP.replace("name: echo\n", "name: echo2\n").replace("targetPort: 50051", "targetPort: 50052"));
      writeFileSync(join(dir, "environments/test.yaml"), envFile(consul.url, ns, "{2.3.0: 0, 2.4.0: 100}").replace("  traffic:", "  - app: echo2\n    cluster: eu1\n  traffic:"));
      const sha2 = await commitAll(dir, "echo2");
      await http(`${srv.url}/v1/runs`, { method: "POST", body: JSON.stringify({ env: "test" }) });
      const third = await eventually(async () => {
        const r = await http(`${srv.url}/v1/runs?env=test`);
        return (r.body ?? []).find((x: { revision: string; state: string }) => x.revision === sha2 && ["succeeded", "failed"].includes(x.state)) ?? undefined;
      }, 60_000, "the run of the echo2 commit");
      assert.equal(third.state, "succeeded", srv.log());
      await eventually(async () => (/amphi xds: services of the applied config: 2 \(new: echo2\)/.test(srv.log()) ? true : undefined), 120_000, "the control plane to follow the config");
      const echo2 = await grpcClient.calls("xds:///echo2:50052", 10);
      assert.deepEqual(echo2.by, { "echo2-1.0.0": 10 }, grpcClient.stderr);

      // serve's /metrics carries the control plane's series: the one connected client, no NACK.
      const metrics = (await http(`${srv.url}/metrics`)).text;
      assert.match(metrics, /^amphi_xds_connected_proxies\{env="test"\} 1$/m, metrics);
      assert.doesNotMatch(metrics, /^amphi_xds_nacks_total\{[^}]*\} [1-9]/m, metrics);
      assert.match(metrics, /^amphi_xds_pushes_total\{[^}]*type="endpoint"[^}]*\} [1-9]/m, metrics);
    } finally {
      await grpcClient?.close();
      assert.equal(await srv.stop(), 0);
    }
    assert.match(srv.log(), /amphi xds: stopped: proxies=\d+ pushes=\d+ nacks=0/);
  });

  it("refuses an --xds-listen that is not ADDR:PORT, naming the flag", async () => {
    let err = "";
    const code = await run(["serve", "--repo", dir, "--env", "test", "--listen", "127.0.0.1:0", "--xds-listen", "15010"], { out: () => {}, err: (t) => void (err += t), cwd: dir, env: process.env });
    assert.equal(code, 1);
    assert.match(err, /--xds-listen must be ADDR:PORT \(e\.g\. 127\.0\.0\.1:15010\), not "15010"/);
  });
});
