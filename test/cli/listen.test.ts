// Listen addresses and `serve --xds-listen`'s start: one parser for every `--*listen` flag (serve's --listen and
// --xds-listen, xds's --listen and --metrics-listen accept the same forms and fail the same way), and serve reads
// the config once at start for the loop's environments and its control plane (counted as `git cat-file` processes
// through a logging `git` on PATH, up to the control plane's "listening" line; the loop's first cycle comes after).
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseListen } from "../../src/cli/options.js";
import { listenAddress } from "../../src/cli/xds.js";
import { commitAll, initRepo } from "../support/git-repo.js";
import { startListening } from "../support/cli.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { echoApp, meshEnvHead } from "../xds/support/config.js";

describe("listen addresses", () => {
  it("one parser: host:port, [v6]:port and :port for every flag, the bind form servers take", () => {
    assert.deepEqual(parseListen("127.0.0.1:8080"), { host: "127.0.0.1", port: 8080, bind: "127.0.0.1:8080" });
    assert.deepEqual(parseListen("[::1]:0"), { host: "::1", port: 0, bind: "[::1]:0" });
    assert.deepEqual(parseListen(":9090"), { host: "0.0.0.0", port: 9090, bind: "0.0.0.0:9090" });
    assert.equal(listenAddress(":0", "--xds-listen"), "0.0.0.0:0");
    assert.equal(listenAddress("[::1]:15010", "--xds-listen"), "[::1]:15010");
    assert.equal(listenAddress("localhost:0"), "localhost:0");
    for (const bad of ["15010", "127.0.0.1:99999", "a:b:1", "[::1:80", ""]) {
      assert.throws(() => listenAddress(bad, "--xds-listen"), { message: `--xds-listen must be ADDR:PORT (e.g. 127.0.0.1:15010), not "${bad}"` });
      assert.throws(() => parseListen(bad, "--listen"), { message: `--listen must be ADDR:PORT (e.g. 127.0.0.1:8080), not "${bad}"` });
    }
  });
});

describe("amphi serve --xds-listen reads the config once at start", () => {
  let dir = "";
  let consul: ConsulDouble;
  const path = process.env.PATH;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `amphi-serve-once-${process.pid}-`));
    const repo = join(dir, "repo");
    mkdirSync(join(repo, "apps/echo"), { recursive: true });
    mkdirSync(join(repo, "environments"));
    consul = await startConsulDouble();
    writeFileSync(join(repo, "apps/echo/spec.yaml"), echoApp("1.0.0"));
    writeFileSync(join(repo, "environments/test.yaml"), `${meshEnvHead(consul.url)}  clusters:\n  - name: dev\n    context: amphi-no-such-context\n    namespace: test\n  placements:\n  - app: echo\n    cluster: dev\n`);
    writeFileSync(join(repo, ".gitignore"), ".amphi/\n");
    await initRepo(repo);
    await commitAll(repo, "config");
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "git"), `#!/bin/sh\necho "$*" >> '${join(dir, "git.log")}'\nexec /usr/bin/git "$@"\n`);
    chmodSync(join(bin, "git"), 0o755);
    process.env.PATH = `${bin}:${path}`;
  });
  after(async () => {
    process.env.PATH = path;
    await consul?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("one cat-file process for the environments and the control plane together", async () => {
    writeFileSync(join(dir, "git.log"), "");
    const repo = join(dir, "repo");
    const srv = await startListening("serve", ["--repo", repo, "--env", "test", "--listen", "127.0.0.1:0", "--xds-listen", "127.0.0.1:0", "--interval", "1h", "--state-dir", join(repo, ".amphi")], { ...process.env, PATH: process.env.PATH });
    const atStart = readFileSync(join(dir, "git.log"), "utf8").split("\n").filter((l) => l.startsWith("cat-file"));
    try {
      assert.match(srv.err(), /amphi xds: listening on/);
      assert.equal(atStart.length, 1, readFileSync(join(dir, "git.log"), "utf8"));
    } finally {
      assert.equal(await srv.stop(), 0, srv.err());
    }
  });
});
