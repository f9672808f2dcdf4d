// Secrets on real SSH hosts (issue 13's check, the host half): the example billing package on two sshd hosts in
// network namespaces, with a `secret: true` DB_PASSWORD whose value is in environments/fleet.secrets.yaml (its data
// key encrypted by the real age CLI). `amphi apply` over SSH puts the value in the app's environment and a mode-600
// env file on each host and nowhere else: not in the hosts' process lists while applying (sampled inside each
// host's namespaces), not in state.json (a keyed digest), not in anything amphi printed or wrote locally. A
// rotation restarts the app with the new value, an unchanged re-apply touches nothing, and a wrong identity stops
// the environment with a located error and exit 1, leaving the hosts as they were.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi, type CliResult } from "../support/cli.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { fleetEnvironment } from "../support/fleet-config.js";
import { EXAMPLE_PACKAGE, EXAMPLE_SHA, killUnder } from "../support/local-host.js";
import { ageKeygen, filesUnder, noAge, processArgsSampler, sampleWhile, sopsWithAgeCli } from "./support.js";

const support = fleetSupported();
const skip = noAge || (support.ok ? false : process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`);
const PORT = 9170;
const tag = () => Math.random().toString(36).slice(2, 10);

const spec = `apiVersion: v1
kind: Application
spec:
  services:
  - name: billing
    ports:
    - targetPort: ${PORT}
      protocol: http
    healthCheck:
      path: /health
  package:
    version: "2.3.0"
    path: packages/billing-2.3.0.tar.gz
    sha256: ${EXAMPLE_SHA}
    start: node server.mjs ${PORT} billing
    env:
    - name: APP_VERSION
      value: "2.3.0"
    - name: DB_PASSWORD
      secret: true
`;

describe("secrets over ssh: private on netns hosts, never printed, rotated, refused with a wrong identity", { skip }, () => {
  const V1 = `dbpw-one-${tag()}`, V2 = `dbpw-two-${tag()}`;
  const VALUES = [V1, V2];
  let fleet: TestFleet;
  let repo = "";
  let keyDir = "";
  const key = ageKeygen();
  const outputs: string[] = [];
  const keyFile = () => join(keyDir, "key.txt");
  const cli = async (args: string[], identity = keyFile()): Promise<CliResult> => {
    const r = await amphi([...args, "--env", "fleet", "--repo", repo], repo, { ...process.env, AMPHI_AGE_KEY: "", AMPHI_AGE_KEY_FILE: identity });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const apply = (identity?: string) => cli(["apply", "--yes", "--health-timeout", "30"], identity);
  /** `amphi apply` while the machine's process list is sampled (the hosts' processes in it: their PID namespaces are
   * the root namespace's children, so a `ps` inside a host lists a subset): no sample may show a value. */
  const applyWatched = async (): Promise<CliResult> => {
    const { result: r, seen } = await sampleWhile(apply(), processArgsSampler());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(seen.length > 6, `the process lists were sampled while applying (${seen.length} times)`);
    // the app's supervisor on each host runs from its base dir
    for (const h of fleet.hosts) assert.ok(seen.some((s) => s.includes(h.baseDir)), `the samples saw ${h.name}'s processes (${h.baseDir})`);
    for (const v of VALUES) assert.ok(!seen.some((s) => s.includes(v)), `${v} in a process list`);
    return r;
  };
  const writeSecrets = async (value: string) =>
    writeFileSync(join(repo, "environments/fleet.secrets.yaml"), await sopsWithAgeCli({ billing: { DB_PASSWORD: value } }, [key.recipient]));
  /** Billing's pid on host i and its environment, read inside the host's namespaces. */
  const billing = async (i: number): Promise<{ pid: string; env: string[] }> => {
    const r = await fleet.execOnHost(i, ["sh", "-c", `p=$(pgrep -f "^node server[.]mjs ${PORT}") && echo "$p" && tr '\\0' '\\n' < /proc/$p/environ`]);
    assert.equal(r.code, 0, `billing runs on host${i}: ${r.stderr}`);
    const [pid, ...env] = r.stdout.trim().split("\n");
    return { pid: pid!, env };
  };
  /** The files of host i that amphi writes (state.json, env files, logs), with their modes. */
  const hostFiles = async (i: number): Promise<string> => {
    const base = fleet.hosts[i]!.baseDir;
    const r = await fleet.execOnHost(i, ["sh", "-c", `find ${base} -type f -printf '%p %m %s %T@\\n' | sort`]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const hostState = async (i: number): Promise<string> => {
    const r = await fleet.execOnHost(i, ["cat", join(fleet.hosts[i]!.baseDir, "state.json")]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 2, prefix: `sec${tag().slice(0, 4)}-` });
    repo = mkdtempSync(join(tmpdir(), `amphi-secrets-ssh-${process.pid}-`));
    keyDir = mkdtempSync(join(tmpdir(), `amphi-secrets-ssh-key-${process.pid}-`));
    writeFileSync(keyFile(), key.identity, { mode: 0o600 });
    mkdirSync(join(repo, "packages"), { recursive: true });
    mkdirSync(join(repo, "apps/billing"), { recursive: true });
    mkdirSync(join(repo, "environments"), { recursive: true });
    copyFileSync(EXAMPLE_PACKAGE, join(repo, "packages/billing-2.3.0.tar.gz"));
    writeFileSync(join(repo, "apps/billing/spec.yaml"), spec);
    writeFileSync(join(repo, "environments/fleet.yaml"), fleetEnvironment(fleet, { maxUnavailable: 2 }));
    await writeSecrets(V1);
  });

  after(async () => {
    if (fleet) {
      for (const h of fleet.hosts) killUnder(h.baseDir);
      await fleet.cleanup();
    }
    if (repo) rmSync(repo, { recursive: true, force: true });
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it("apply over ssh puts the value in the app's environment and a mode-600 env file, never in a process list", async () => {
    const r = await applyWatched();
    assert.equal((r.stderr.match(/deploy billing\s+succeeded \(changed\)/g) ?? []).length, 2, r.stderr);

    for (const [i, h] of fleet.hosts.entries()) {
      const { env } = await billing(i);
      assert.ok(env.includes(`DB_PASSWORD=${V1}`), `${h.name}: the app has the value`);
      const files = await fleet.execOnHost(i, ["sh", "-c", `stat -c '%a %U %n' ${h.baseDir}/apps/billing/releases/*/.amphi/env`]);
      assert.equal(files.code, 0, files.stderr);
      const lines = files.stdout.trim().split("\n");
      assert.equal(lines.length, 1, files.stdout);
      assert.match(lines[0]!, /^600 root \//, `${h.name}: the env file is mode 600, owned by the run-as user`);
      const state = await hostState(i);
      assert.match(state, /"DB_PASSWORD": "hmac-sha256:[0-9a-f]{32}"/, `${h.name}: state.json keeps a keyed digest`);
      for (const v of VALUES) assert.ok(!state.includes(v), `${h.name}: ${v} in state.json`);
    }
  });

  it("a rotation restarts the app on every host with the new value", async () => {
    const before = await Promise.all(fleet.hosts.map((_, i) => billing(i)));
    await writeSecrets(V2);
    for (const format of ["text", "json", "markdown"]) {
      const plan = await cli(["plan", "--format", format]);
      assert.equal(plan.code, 2, plan.stdout + plan.stderr);
      if (format === "json") assert.match(plan.stdout, /DB_PASSWORD/, "the json plan names the changed secret");
      else assert.match(plan.stdout, /environment\.DB_PASSWORD \(secret changed\)/);
    }
    await applyWatched();
    for (const [i, h] of fleet.hosts.entries()) {
      const now = await billing(i);
      assert.notEqual(now.pid, before[i]!.pid, `${h.name}: billing restarted`);
      assert.ok(now.env.includes(`DB_PASSWORD=${V2}`), `${h.name}: the app has the new value`);
      assert.ok(!now.env.some((e) => e.includes(V1)), `${h.name}: the old value is gone`);
    }
  });

  it("an unchanged re-apply touches nothing on the hosts", async () => {
    const pids = await Promise.all(fleet.hosts.map(async (_, i) => (await billing(i)).pid));
    const files = await Promise.all(fleet.hosts.map((_, i) => hostFiles(i)));
    const plan = await cli(["plan"]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    const r = await apply();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /\(changed\)/);
    for (const [i, h] of fleet.hosts.entries()) {
      assert.equal((await billing(i)).pid, pids[i], `${h.name}: billing was not restarted`);
      assert.equal(await hostFiles(i), files[i], `${h.name}: no file changed`);
    }
  });

  it("a wrong identity: exit 1 with a located error, nothing changed on the hosts", async () => {
    const other = join(keyDir, "other.txt");
    writeFileSync(other, ageKeygen().identity, { mode: 0o600 });
    await writeSecrets(`${V1}-never`);
    VALUES.push(`${V1}-never`);
    const pids = await Promise.all(fleet.hosts.map(async (_, i) => (await billing(i)).pid));
    const files = await Promise.all(fleet.hosts.map((_, i) => hostFiles(i)));
    const states = await Promise.all(fleet.hosts.map((_, i) => hostState(i)));
    const r = await apply(other);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^amphi: environments\/fleet\.secrets\.yaml \/billing\/DB_PASSWORD: cannot decrypt: the age identity is not one of the file's recipients/m);
    for (const [i, h] of fleet.hosts.entries()) {
      assert.equal((await billing(i)).pid, pids[i], `${h.name}: billing was not restarted`);
      assert.ok((await billing(i)).env.includes(`DB_PASSWORD=${V2}`), `${h.name}: the app keeps the applied value`);
      assert.equal(await hostFiles(i), files[i], `${h.name}: no file changed`);
      assert.equal(await hostState(i), states[i], `${h.name}: state.json unchanged`);
    }
  });

  it("nothing amphi printed or wrote locally holds a value: plans, run records, logs", async () => {
    const tasks = async (args: string[]) => {
      const r = await amphi(["tasks", ...args, "--state-dir", join(repo, ".amphi"), "--format", "json"], repo);
      assert.equal(r.code, 0, r.stderr);
      outputs.push(r.stdout, r.stderr);
      return r.stdout;
    };
    const runs = JSON.parse(await tasks(["list"])) as { id: string }[] | { runs: { id: string }[] };
    const ids = (Array.isArray(runs) ? runs : runs.runs).map((x) => x.id);
    assert.ok(ids.length >= 2, `the applies were recorded (${ids.join(", ")})`);
    for (const id of ids) await tasks(["show", id]);
    for (const out of outputs) for (const v of VALUES) assert.ok(!out.includes(v), `${v} in an output: ${out.slice(0, 200)}`);
    const files = filesUnder(repo);
    assert.ok(files.some((f) => /\/runs\/r-[^/]+\.json$/.test(f)), `run records were searched: ${files.join(", ")}`);
    for (const f of files) {
      const text = readFileSync(f, "latin1");
      for (const v of VALUES) assert.ok(!text.includes(v) && !text.includes(Buffer.from(v).toString("base64")), `${v} in ${f}`);
    }
    // The hosts' own logs and state: only a release's env file (and its rollback copy) may hold a value.
    for (const [i, h] of fleet.hosts.entries()) {
      const r = await fleet.execOnHost(i, ["sh", "-c", `grep -rlF -e '${V1}' -e '${V2}' ${h.baseDir} || true`]);
      const holders = r.stdout.trim().split("\n").filter(Boolean);
      for (const f of holders) assert.match(f, /\/\.amphi\/((next|rollback)\/)?env$/, `${h.name}: a value in ${f}`);
      const logs = await fleet.execOnHost(i, ["sh", "-c", `ls ${h.baseDir}/logs`]);
      assert.match(logs.stdout, /billing\.log/, `${h.name}: the app's log was searched`);
    }
  });
});
