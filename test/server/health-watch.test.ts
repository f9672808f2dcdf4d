// amphi serve's Consul health watch (src/reconcile/health-watch.ts): the example's `local` environment with
// Consul (the test double, test/support/consul — not Consul) and statuses to a fake GitHub API that records
// them. After the first cycle, a check failed in Consul turns the app's status to failure without a cycle
// (the interval is 1 h and no cycle may run in between); passed again → success. The latency is printed, not
// asserted (it is well under 1 s on a quiet machine; a 1 s bound failed beside a CPU hog). A Consul outage is
// logged once and never ends serve.
//
// Every wait is for an event (a status posted, a line logged) with a generous deadline as a safety net only.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loopRepo, type LoopRepo } from "../loop/support.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { eventually, serve, type Serving } from "./support.js";

interface Posted {
  sha: string;
  context: string;
  state: string;
  description: string;
  at: number;
}

let repo: LoopRepo;
let consul: ConsulDouble;
let forge: Server;
let srv: Serving;
const posted: Posted[] = [];
/** Safety net of every wait below: each waits for an event that comes in well under a second on a quiet machine. */
const WAIT = 120_000;
/** Lines of serve's log that end a cycle (`<time> local <outcome> (<trigger>) …`). */
const cycles = (): string[] => srv.log().split("\n").filter((l) => /^\d\d:\d\d:\d\d local \S+ \(/.test(l));

/** A GitHub statuses API that records every status (201). */
async function fakeGithub(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const m = /^\/repos\/o\/config\/statuses\/([0-9a-f]{40})$/.exec(req.url ?? "");
      if (req.method !== "POST" || !m) return void res.writeHead(404).end("{}");
      const s = JSON.parse(body) as { context: string; state: string; description: string };
      posted.push({ sha: m[1]!, context: s.context, state: s.state, description: s.description, at: performance.now() });
      res.writeHead(201, { "Content-Type": "application/json" }).end(JSON.stringify({ id: posted.length, ...s }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The last status posted for a context. */
function last(context: string): Posted | undefined {
  return posted.filter((p) => p.context === context).at(-1);
}

async function checkUpdate(verb: "pass" | "fail", checkId: string): Promise<number> {
  const res = await fetch(`${consul.url}/v1/agent/check/${verb}/${encodeURIComponent(checkId)}?note=${verb}ed+by+the+test`, { method: "PUT" });
  assert.equal(res.status, 200, await res.text());
  return performance.now();
}

before(async () => {
  consul = await startConsulDouble();
  const gh = await fakeGithub();
  forge = gh.server;
  repo = await loopRepo("amphi-health-watch");
  const file = join(repo.dir, "environments/local.yaml");
  const text = readFileSync(file, "utf8")
    // A long TTL: the host's health reporter passes the check every TTL/3, not during the test.
    .replace("  hostGroups:\n", `  consul:\n    address: ${consul.url}\n    checkTTL: 10m\n    deregisterCriticalAfter: 30m\n  hostGroups:\n`)
    .replace("    provider: gitnotes\n", `    provider: github\n    url: ${gh.url}\n    repository: o/config\n    tokenEnv: AMPHI_TEST_GH_TOKEN\n`);
  writeFileSync(file, text);
  repo.sha = await repo.commit("local: Consul and GitHub statuses");
  srv = await serve(["--repo", repo.dir, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h"], repo.dir, { ...process.env, AMPHI_TEST_GH_TOKEN: "t0ken" });
  await eventually(async () => (/local applied \(start\)/.test(srv.log()) ? true : undefined), WAIT, "the first cycle");
  await eventually(async () => (/watching Consul health at/.test(srv.log()) ? true : undefined), WAIT, "the health watch");
});

after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
  await repo?.cleanup();
  await consul?.close();
  await new Promise((r) => forge?.close(r));
});

test("a check failed in Consul → the app's status is failure without a cycle; passed again → success", async () => {
  const reg = consul.state().services.find((s) => s.Meta["amphi-app"] === "billing");
  assert.ok(reg, `billing registered in Consul: ${JSON.stringify(consul.state().services.map((s) => s.ID))}`);
  const checkId = `service:${reg.ID}`;
  const context = "amphi/local/billing";
  // Start from passing checks and success statuses (the reporters may not have passed them yet).
  for (const s of consul.state().services) if (s.Meta["amphi-app"]) await checkUpdate("pass", `service:${s.ID}`);
  await eventually(async () => (last(context)?.state === "success" && last("amphi/local/catalog")?.state === "success" ? true : undefined), WAIT, "success statuses");
  const before = posted.length;
  const cyclesBefore = cycles().length;

  const failedAt = await checkUpdate("fail", checkId);
  await eventually(async () => (last(context)?.state === "failure" ? true : undefined), WAIT, `${context} failure`);
  const failure = last(context)!;
  assert.equal(failure.sha, repo.sha, "posted on the revision of the last cycle");
  assert.match(failure.description, /check critical in Consul|unhealthy|degraded|missing/);
  const failMs = failure.at - failedAt;

  const passedAt = await checkUpdate("pass", checkId);
  await eventually(async () => (last(context)?.state === "success" ? true : undefined), WAIT, `${context} success`);
  const passMs = last(context)!.at - passedAt;
  assert.equal(cycles().length, cyclesBefore, `posted by the watch, not by a cycle:\n${srv.log()}`);
  // Billing's status went failure → success once each; catalog's stayed success (the Observer posts an
  // environment's statuses when one of them changed).
  const since = posted.slice(before);
  assert.deepEqual(since.filter((p) => p.context === context).map((p) => p.state), ["failure", "success"]);
  // (amphi/local, the environment's own status, follows its worst app.)
  assert.ok(since.every((p) => p.context === context || p.context === "amphi/local" || p.state === "success"), JSON.stringify(since));
  console.log(`health watch: fail → failure posted in ${failMs.toFixed(0)} ms, pass → success in ${passMs.toFixed(0)} ms`);
});

test("a Consul outage is logged once and the watch resumes when Consul answers again", async () => {
  const reg = consul.state().services.find((s) => s.Meta["amphi-app"] === "billing")!;
  const context = "amphi/local/billing";
  const outages = () => srv.log().split("\n").filter((l) => /local: watching Consul health: /.test(l));
  assert.equal(outages().length, 0, `no outage before this test:\n${srv.log()}`);
  // The statuses this test waits for are the ones posted after its own check updates (the test before may have
  // left a late status of its own).
  await eventually(async () => (last(context)?.state === "success" ? true : undefined), WAIT, `${context} success before the outage`);
  await consul.pause();
  consul.dropConnections();
  // Down until the watch has seen it (a fixed sleep raced the watch's first error on a loaded machine), and a
  // while longer, so the watches retry against a closed port.
  await eventually(async () => (outages().length > 0 ? true : undefined), WAIT, "the outage logged");
  await new Promise((r) => setTimeout(r, 500));
  await consul.resume();
  // The watches retry with backoff (100 ms doubling, at most 30 s); the first change after it is seen.
  const failedAfter = posted.length;
  await checkUpdate("fail", `service:${reg.ID}`);
  await eventually(async () => (posted.slice(failedAfter).some((p) => p.context === context && p.state === "failure") ? true : undefined), WAIT, `${context} failure after the outage`);
  assert.equal(outages().length, 1, `logged once per outage:\n${srv.log()}`);
  assert.match(srv.log(), /local: Consul answers again/);
  const passedAfter = posted.length;
  await checkUpdate("pass", `service:${reg.ID}`);
  await eventually(async () => (posted.slice(passedAfter).some((p) => p.context === context && p.state === "success") ? true : undefined), WAIT, `${context} success after the outage`);
  assert.match(srv.log(), /local in-sync|local applied/);
});
