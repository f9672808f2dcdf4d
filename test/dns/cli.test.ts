// `amphi dns`: the command in-process (options, bind policy, log lines, token never printed) and as a real
// process stopped by SIGTERM.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli/main.js";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { amphi, startListening, type Listening } from "../support/cli.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { register } from "./consul.js";
import { dig, startDnsmasq, stopChild, type Dnsmasq } from "./tools.js";

const BIN = fileURLToPath(new URL("../../bin/amphi.js", import.meta.url));

/** Starts `amphi dns` in-process; resolves with its port once it logged the start line. */
function startDns(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Listening> {
  return startListening("dns", ["--repo", EXAMPLE_REPO, "--port", "0", ...args], env);
}

describe("amphi dns", () => {
  let upstream: Dnsmasq;
  let consul: ConsulDouble;

  before(async () => {
    upstream = await startDnsmasq(["--address=/example.test/192.0.2.7"]);
    consul = await startConsulDouble({ token: "tok-123-secret" });
    for (const name of ["user", "cart"]) await register(consul.url, name, "tok-123-secret");
  });
  after(async () => {
    await consul?.close();
    await upstream?.stop();
  });

  it("serves the environment's mesh IP for catalog names, forwards the rest, logs start, changes and stop", async () => {
    const dns = await startDns(["--env", "prod", "--upstream", `127.0.0.1:${upstream.port}`, "--consul", consul.url], { AMPHI_CONSUL_TOKEN: "tok-123-secret" });
    try {
      assert.match(dns.err(), /listening on 127\.0\.0\.1:\d+ \(udp, tcp\) for prod: zone 2 services from http:\/\/127\.0\.0\.1:\d+; mesh IP 10\.255\.0\.1, domain mesh; upstreams 127\.0\.0\.1:\d+/);
      assert.deepEqual((await dig(dns.port, ["user.mesh", "+short"])).raw.trim(), "10.255.0.1");
      assert.deepEqual((await dig(dns.port, ["www.example.test", "+short"])).raw.trim(), "192.0.2.7");
      await register(consul.url, "orders", "tok-123-secret");
      await new Promise((r) => setTimeout(r, 300));
      assert.match(dns.err(), /amphi dns: zone: 3 services \(\+orders\)/);
      assert.ok(consul.requests.filter((r) => r.path === "/v1/catalog/services").every((r) => r.caller === "management"), "token sent");
    } finally {
      assert.equal(await dns.stop(), 0);
    }
    assert.match(dns.err(), /amphi dns: stopped: queries=2 tcp=0 zone=1 forwarded=1 relayed=1 /);
    assert.ok(!dns.err().includes("tok-123"), "the token is never logged");
  });

  it("starts with an empty zone when Consul is unreachable, and says so; a missing token is a warning", async () => {
    const dns = await startDns(["--env", "prod", "--upstream", `127.0.0.1:${upstream.port}`, "--consul", "http://127.0.0.1:9"]);
    try {
      assert.match(dns.err(), /empty zone, catalog http:\/\/127\.0\.0\.1:9 unreachable \(.*\), retrying/);
      assert.match(dns.err(), /AMPHI_CONSUL_TOKEN \(consul\.tokenEnv\) is not set: reading the catalog without a token/);
      assert.deepEqual((await dig(dns.port, ["www.example.test", "+short"])).raw.trim(), "192.0.2.7");
    } finally {
      await dns.stop();
    }
  });

  it("refuses the wildcard and public addresses unless --allow-open-resolver; bad flags are input errors", async () => {
    for (const listen of ["0.0.0.0", "::", "8.8.8.8", "localhost"]) {
      const r = await amphi(["dns", "--env", "staging", "--repo", EXAMPLE_REPO, "--listen", listen, "--port", "0"]);
      assert.equal(r.code, 1, listen);
      assert.match(r.stderr, new RegExp(`--listen ${listen.replace(/\./g, "\\.")}: `), r.stderr);
    }
    assert.match((await amphi(["dns", "--env", "staging", "--repo", EXAMPLE_REPO, "--upstream", "dns.google"])).stderr, /upstream "dns.google": not an IP address/);
    assert.match((await amphi(["dns", "--env", "staging", "--repo", EXAMPLE_REPO, "--port", "70000"])).stderr, /--port must be an integer/);
    assert.match((await amphi(["dns", "--env", "nope", "--repo", EXAMPLE_REPO])).stderr, /unknown environment "nope"/);
    const open = await startDns(["--env", "staging", "--listen", "0.0.0.0", "--allow-open-resolver", "--upstream", `127.0.0.1:${upstream.port}`, "--consul", consul.url]).catch((e: Error) => e);
    assert.ok(!(open instanceof Error), String(open));
    await open.stop();
  });

  it("runs as a process until SIGTERM, then exits 0", async () => {
    const child = spawn(process.execPath, [BIN, "dns", "--env", "prod", "--repo", EXAMPLE_REPO, "--port", "0", "--upstream", `127.0.0.1:${upstream.port}`, "--consul", consul.url], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, AMPHI_CONSUL_TOKEN: "tok-123-secret" },
    });
    try {
      let err = "";
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr!.on("data", (d: Buffer) => {
          err += d.toString();
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      assert.deepEqual((await dig(port, ["cart", "+short"])).raw.trim(), "10.255.0.1");
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      assert.match(err, /stopped: queries=1 /);
    } finally {
      await stopChild(child);
    }
  });
});
