// The host scripts as text: POSIX sh that dash and busybox parse (and shellcheck passes, where it is
// installed), an env file that sh reads back exactly, the HTTP client fallbacks, and the systemd unit.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as tcpServer, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { findExecutable } from "../../src/adapters/process/spawn.js";
import { envFileText, shellQuote } from "../../src/hosts/env-file.js";
import { EXEC_SH, scriptText, SCRIPTS, SUPERVISE_SH, type ScriptName } from "../../src/hosts/scripts.js";
import { systemdUnit, unitName } from "../../src/hosts/systemd.js";
import { freePort } from "../support/local-host.js";
import { spawnSync } from "../support/spawn.js";

const scriptsDir = fileURLToPath(new URL("../../src/hosts/scripts/", import.meta.url));
const has = (bin: string) => findExecutable(bin, process.env) !== null;
const names = Object.keys(SCRIPTS) as ScriptName[];
// Checked as they run: the scripts run alone (`sh -c SCRIPT amphi ...`: capture.ts, sidecar.ts) without lib.sh.
const ALONE = new Set<ScriptName>(["capture-inspect", "capture-apply", "sidecar-check"]);
const texts: [string, string][] = [...names.map((n): [string, string] => [n, ALONE.has(n) ? SCRIPTS[n] : scriptText(n)]), ["supervise", SUPERVISE_SH], ["exec", EXEC_SH]];

describe("host scripts", () => {
  it("every file in scripts/ is loaded", () => {
    const files = readdirSync(scriptsDir).filter((f) => f.endsWith(".sh")).sort();
    assert.deepEqual(files, [...names.map((n) => `${n}.sh`), "lib.sh", "uid.sh", "supervise.sh", "exec.sh"].sort());
  });

  for (const shell of [["dash"], ["busybox", "sh"]]) {
    it(`${shell.join(" ")} -n accepts every script`, { skip: has(shell[0] as string) ? false : `${shell[0]} not installed` }, () => {
      for (const [name, text] of texts) {
        const r = spawnSync(shell[0] as string, [...shell.slice(1), "-n"], { input: text, encoding: "utf8" });
        assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      }
    });
  }

  it("shellcheck (POSIX sh) finds nothing", { skip: has("shellcheck") ? false : "shellcheck not installed (apt-get install shellcheck)" }, () => {
    for (const [name, text] of texts) {
      const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: text, encoding: "utf8" });
      assert.equal(r.status, 0, `${name}:\n${r.stdout}`);
    }
  });

  it("uses no bashisms that dash would reject at run time", () => {
    for (const [name, text] of texts) {
      const code = text.split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
      assert.doesNotMatch(code, /\[\[|\bfunction\s+\w+|\blocal\s|\$\{[^}]*\/\/|<<<|\bsource\s|&>/, name);
    }
  });
});

describe("sidecar-check.sh", () => {
  /** The command line of process `pid` (NULs as spaces), or null once it is gone. */
  const cmdline = (pid: number): string | null => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      return null;
    }
  };
  const interpreters: [string, string, string][] = [["node", "/usr/bin/node", "node -e"], ["python3", "/usr/bin/python3", "python3 -c"]];
  for (const [name, bin, shown] of interpreters) {
    it(`execs the ${name} check: it is the script's pid, so a signal to that pid ends the check`, { skip: existsSync(bin) ? false : `${bin} not installed` }, async (t) => {
      // A PATH with only this interpreter (the script needs nothing else: command -v is sh's own).
      const bins = mkdtempSync(join(tmpdir(), `amphi-sidecar-check-${process.pid}-`));
      t.after(() => rmSync(bins, { recursive: true, force: true }));
      symlinkSync(bin, join(bins, name));
      const port = String(await freePort()); // nothing listens: the check waits its 600 s
      const child = spawn("/bin/sh", ["-c", SCRIPTS["sidecar-check"], "amphi", "ready", port, port, port, "600"], { env: { PATH: bins }, stdio: "ignore" });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
      t.after(() => void child.kill("SIGKILL"));
      const pid = child.pid!;
      const t0 = Date.now();
      while (!cmdline(pid)?.startsWith(`${shown} `) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
      assert.match(cmdline(pid) ?? "(gone)", new RegExp(`^${shown} [^]* ${port} ${port} ${port} 600 $`), "the script's pid runs the check");
      process.kill(pid, "SIGTERM");
      assert.equal(await exited, "SIGTERM");
      // No check left behind (as a child of a shell that was killed instead of it would be).
      const left = readdirSync("/proc").filter((p) => /^\d+$/.test(p) && (cmdline(Number(p)) ?? "").includes(` ${port} ${port} ${port} 600`));
      assert.deepEqual(left, []);
    });
  }

  // Through curl, and through wget where there is no curl: what `ready` reports, and that it never connects to a
  // capture port (a direct connection there loops through Envoy's pass-through chain back to the listener).
  for (const client of ["curl", "wget"]) {
    // node too: where curl or wget can ask, the check still is no node program (which would connect to the ports)
    const tools = [...(client === "curl" ? ["curl"] : ["wget", "timeout", "sed", "head"]), "awk", "sleep", "node"];
    it(`ready with ${client}: admin /ready and the listening capture ports, without a connection to either port`, { skip: has(client) ? false : `${client} not installed` }, async (t) => {
      const bins = mkdtempSync(join(tmpdir(), `amphi-sidecar-ready-${process.pid}-`));
      t.after(() => rmSync(bins, { recursive: true, force: true }));
      // the HTTP client through a shim that counts its runs
      const runs = join(bins, "client-runs");
      for (const tool of tools) {
        const real = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
        if (tool === client) writeFileSync(join(bins, tool), `#!/bin/sh\necho run >>${runs}\nexec ${real} "$@"\n`, { mode: 0o755 });
        else symlinkSync(real, join(bins, tool));
      }
      const clientRuns = (): number => (existsSync(runs) ? readFileSync(runs, "utf8").split("\n").length - 1 : 0);
      let connections = 0;
      const admin = createServer((req, res) => res.writeHead(req.url === "/ready" ? 200 : 404).end());
      const inbound = tcpServer((s) => (connections++, s.destroy()));
      const outbound = tcpServer((s) => (connections++, s.destroy()));
      const listen = (s: Server | TcpServer, host: string) => new Promise<string>((resolve) => s.listen(0, host, () => resolve(String((s.address() as { port: number }).port))));
      const [a, i, o] = [await listen(admin, "127.0.0.1"), await listen(inbound, "0.0.0.0"), await listen(outbound, "127.0.0.1")];
      t.after(() => (admin.close(), inbound.close(), outbound.close()));
      const free = String(await freePort());
      const ready = async (...args: string[]) => (await promisify(execFile)("/bin/sh", ["-c", SCRIPTS["sidecar-check"], "amphi", "ready", ...args], { env: { PATH: bins } })).stdout;
      assert.equal(await ready(a, i, o, "10"), "result=ok\nready=200\ninbound=1\noutbound=1\n");
      assert.equal(await ready(a, i, free, "1"), "result=timeout\nready=200\ninbound=1\noutbound=0\n");
      const before = clientRuns();
      assert.equal(await ready(free, free, o, "1"), "result=timeout\nready=000\ninbound=0\noutbound=1\n");
      // nothing listens on the admin port: a second of polls, and /proc/net/tcp said so each time without the client
      assert.equal(clientRuns() - before, 0, `${client} ran while nothing listened on the admin port`);
      assert.ok(before >= 2, `${client} ran ${before} times for the two answered checks`);
      assert.equal(connections, 0, "no connection to a capture port");
    });
  }

  it("an unknown mode is exit 2 naming it", () => {
    const r = spawnSync("/bin/sh", ["-c", SCRIPTS["sidecar-check"], "amphi", "wait", "1"], { encoding: "utf8", env: { PATH: process.env.PATH } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /sidecar-check: unknown mode 'wait' \(ready, drain\)/);
  });
});

describe("env file", () => {
  it("quotes values so that sh reads back exactly what was written", () => {
    const env = { B: "it's \"quoted\" $HOME `id` \\ end", A: "", MULTI: "line1\nline2", UNI: "grüße ✓" };
    const dir = mkdtempSync(join(tmpdir(), `amphi-env-${process.pid}-`));
    try {
      writeFileSync(join(dir, "env"), envFileText(env));
      const r = spawnSync("sh", ["-c", 'set -a; . "$1"; set +a; node -e "console.log(JSON.stringify([process.env.A, process.env.B, process.env.MULTI, process.env.UNI]))"', "sh", join(dir, "env")], {
        encoding: "utf8",
        env: { PATH: process.env.PATH },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), [env.A, env.B, env.MULTI, env.UNI]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sorts keys and writes one KEY='value' per variable", () => {
    assert.equal(envFileText({ Z: "1", A: "x'y" }), "A='x'\\''y'\nZ='1'\n");
    assert.equal(shellQuote(""), "''");
  });

  it("refuses names that are not shell variable names", () => {
    assert.throws(() => envFileText({ "A-B": "1", "1X": "2", OK: "3" }), /: 1X, A-B$/);
  });
});

describe("http_code: curl, wget (GNU and busybox), node, python3", () => {
  let server: Server;
  let port = 0;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `amphi-http-${process.pid}-`));
    server = createServer((req, res) => {
      res.writeHead(req.url === "/bad" ? 503 : req.url === "/moved" ? 302 : 200, req.url === "/moved" ? { location: "/" } : {});
      res.end("x");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs http_code with a PATH that holds only the basic tools and `client` (as `name`). Async: the
   * server answering it runs in this process. */
  async function status(client: { name: string; target: string }, url: string): Promise<string> {
    const bin = join(dir, client.name + "-" + client.target.replace(/\W/g, "_"));
    mkdirSync(bin, { recursive: true });
    for (const tool of ["sed", "head", "cat", "date", "timeout", "id", "pwd"]) {
      if (readdirSync(bin).includes(tool)) continue;
      const path = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      if (path.startsWith("/")) symlinkSync(path, join(bin, tool));
    }
    try {
      symlinkSync(client.target, join(bin, client.name));
    } catch {
      // made by an earlier call
    }
    const script = `${scriptText("probe").split("\n# probe.sh")[0]}\nhttp_code "$1" 2 || exit $?\nprintf '%s\\n' "$HTTP_CODE"`;
    const r = await promisify(execFile)("/bin/sh", ["-c", script, "amphi", dir, "", "test", url], { encoding: "utf8", env: { PATH: bin } });
    return r.stdout.trim();
  }

  const clients = [
    { name: "curl", target: "/usr/bin/curl" },
    { name: "wget", target: "/usr/bin/wget" },
    { name: "wget", target: "/usr/bin/busybox" },
    { name: "node", target: process.execPath },
    { name: "python3", target: "/usr/bin/python3" },
  ];
  for (const c of clients) {
    it(`${c.name} (${c.target})`, { skip: spawnSync("test", ["-x", c.target]).status === 0 ? false : `${c.target} missing` }, async () => {
      assert.equal(await status(c, `http://127.0.0.1:${port}/ok`), "200");
      assert.equal(await status(c, `http://127.0.0.1:${port}/bad`), "503");
      assert.match(await status(c, `http://127.0.0.1:${port}/moved`), /^(302|200)$/);
      assert.equal(await status(c, "http://127.0.0.1:1/"), "000");
    });
  }

  it("reports no client as status 2", () => {
    const bin = join(dir, "none");
    mkdirSync(bin, { recursive: true });
    const script = `${scriptText("probe").split("\n# probe.sh")[0]}\nhttp_code "$1" 2; echo "rc=$?"`;
    const r = spawnSync("/bin/sh", ["-c", script, "amphi", dir, "", "test", "http://127.0.0.1:1/"], { encoding: "utf8", env: { PATH: bin } });
    assert.equal(r.stdout.trim(), "rc=2");
  });
});

describe("systemd unit", () => {
  it("names the unit after environment and app", () => {
    assert.equal(unitName("prod", "billing"), "amphi-prod-billing.service");
  });

  it("runs amphi-exec on current, restarts on failure, appends to the app's log", () => {
    const unit = systemdUnit({ env: "prod", app: "billing", baseDir: "/opt/amphi", stopGraceMs: 10_000 });
    assert.equal(
      unit,
      [
        "# Written by amphi; changes are overwritten on the next deploy.",
        "[Unit]",
        "Description=amphi billing (environment prod)",
        "After=network-online.target",
        "Wants=network-online.target",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=simple",
        "WorkingDirectory=/opt/amphi/apps/billing/current",
        'ExecStart=/bin/sh "/opt/amphi/bin/amphi-exec" "/opt/amphi/apps/billing/current"',
        "Restart=on-failure",
        "RestartSec=1s",
        "RestartSteps=5",
        "RestartMaxDelaySec=30s",
        "KillMode=control-group",
        "TimeoutStopSec=10s",
        "StandardOutput=append:/opt/amphi/logs/billing.log",
        "StandardError=append:/opt/amphi/logs/billing.log",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
      ].join("\n"),
    );
  });

  it("escapes specifiers, quotes and dollars in paths", () => {
    const unit = systemdUnit({ env: "e", app: "a", baseDir: '/srv/50% "x" $y', stopGraceMs: 1500 });
    assert.match(unit, /^WorkingDirectory=\/srv\/50%% "x" \$y\/apps\/a\/current$/m);
    assert.match(unit, /^ExecStart=\/bin\/sh "\/srv\/50%% \\"x\\" \$\$y\/bin\/amphi-exec" /m);
    assert.match(unit, /^TimeoutStopSec=2s$/m);
    assert.throws(() => systemdUnit({ env: "e", app: "a", baseDir: "/a\nb", stopGraceMs: 1 }), /line break/);
  });
});
