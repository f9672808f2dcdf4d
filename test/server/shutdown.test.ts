// SIGTERM to a real `amphi serve` process (bin/amphi.js) during a run, with the config fetched from a URL:
// it stops accepting, the running deploy is cancelled, the run is saved as cancelled, and it exits 0.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loopRepo, type LoopRepo } from "../loop/support.js";
import { eventually, http } from "./support.js";

const BIN = fileURLToPath(new URL("../../bin/amphi.js", import.meta.url));
let repo: LoopRepo;
let child: ChildProcess | null = null;

before(async () => {
  repo = await loopRepo("amphi-shutdown");
  // billing never becomes healthy: its deploy waits in the health gate until it is cancelled.
  const spec = join(repo.dir, "apps/billing/spec.yaml");
  writeFileSync(spec, readFileSync(spec, "utf8").replace("path: /health", "path: /never-healthy"));
  await repo.commit("billing: a health path that never answers 200");
});

after(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await repo.cleanup();
  // A first deploy cancelled in its health gate is rolled back to "not installed", but its supervisor may
  // still run from the release dir, which `demo --down` (it reads state.json) does not know: end it by pid.
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    const cmd = (() => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        return "";
      }
    })();
    if (cmd.includes(repo.dir)) process.kill(Number(pid), "SIGKILL");
  }
});

test("SIGTERM during a run: the run is cancelled and saved, the process exits 0", async () => {
  child = spawn(process.execPath, [BIN, "serve", "--url", `file://${repo.dir}`, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h", "--health-timeout", "120"], { cwd: repo.dir, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child!.on("exit", (code) => r(code)));
  const url = await eventually(async () => /serving local from file:\/\/\S+ on (http:\/\/\S+)/.exec(err)?.[1], 30_000, "serve to listen");
  const running = await eventually(async () => {
    const runs = (await http(`${url}/v1/runs?env=local`)).body as { id: string; tasks: { app: string; state: string }[] }[];
    return runs.find((r) => r.tasks.some((t) => t.app === "billing" && t.state === "running"));
  }, 60_000, "billing's deploy to run");
  child.kill("SIGTERM");
  const t0 = Date.now();
  assert.equal(await exited, 0, err);
  assert.ok(Date.now() - t0 < 20_000, "it stops promptly");
  assert.match(err, /stopping: no new runs; running runs are cancelled and saved/);
  assert.match(err, /amphi: stopped/);
  const run = await repo.store.getRun(running.id);
  assert.equal(run?.state, "cancelled", JSON.stringify(run, null, 1));
  assert.equal(run?.revision, await repo.head());
  const billing = run!.tasks.find((t) => t.app === "billing")!;
  assert.equal(billing.state, "cancelled");
  assert.ok(run!.endedAt, "the run has its end time");
});
