// amphi serve on a Git repo from the example (local environment): the API (healthz, metrics in the
// Prometheus text format, runs, tasks, POST /v1/runs with 409 while busy), webhooks (GitHub HMAC, Gitea
// signature, GitLab token; bad or missing → 401; without a secret only loopback may post).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { networkInterfaces } from "node:os";
import { request } from "node:http";
import { loopRepo, setBillingEnv, billingEnvOnHost, type LoopRepo } from "../loop/support.js";
import { eventually, http, serve, type Serving } from "./support.js";
import { isLoopback } from "../../src/server/webhook.js";

const SECRET = "hook-secret-for-tests";
let repo: LoopRepo;
let srv: Serving;

before(async () => {
  repo = await loopRepo("amphi-serve");
  srv = await serve(["--repo", repo.dir, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h", "--webhook-secret-env", "AMPHI_TEST_HOOK_SECRET"], repo.dir, { ...process.env, AMPHI_TEST_HOOK_SECRET: SECRET });
  // The first cycle (at start) deploys the example's local apps.
  await eventually(async () => (/local applied \(start\)/.test(srv.log()) ? true : undefined), 30_000, "the first cycle");
});

after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
  await repo.cleanup();
});

async function finished(id: string): Promise<any> {
  return eventually(async () => {
    const r = await http(`${srv.url}/v1/runs/${id}`);
    return r.status === 200 && ["succeeded", "failed", "cancelled"].includes(r.body.state) ? r.body : undefined;
  }, 30_000, `run ${id}`);
}

test("GET /healthz answers ok", async () => {
  const r = await http(`${srv.url}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(r.text, "ok\n");
});

test("GET /metrics is Prometheus text with the loop's families", async () => {
  const r = await http(`${srv.url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?(\d+(\.\d+)?([eE][-+]?\d+)?|\+Inf|NaN)$/;
  const types = new Map<string, string>();
  for (const line of r.text.trimEnd().split("\n")) {
    if (line.startsWith("# HELP ")) continue;
    const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    else assert.match(line, sample, `not a sample line: ${line}`);
  }
  assert.deepEqual([...types], [
    ["amphi_runs_total", "counter"], ["amphi_run_duration_seconds", "histogram"], ["amphi_drift_items", "gauge"],
    ["amphi_tasks", "gauge"], ["amphi_last_successful_revision_info", "gauge"], ["amphi_last_run_timestamp_seconds", "gauge"],
  ]);
  assert.match(r.text, /^amphi_runs_total\{env="local",result="applied"\} 1$/m);
  assert.match(r.text, /^amphi_run_duration_seconds_bucket\{env="local",le="\+Inf"\} 1$/m);
  assert.match(r.text, /^amphi_tasks\{state="succeeded"\} 2$/m);
  assert.match(r.text, new RegExp(`^amphi_last_successful_revision_info\\{env="local",revision="${repo.sha}"\\} 1$`, "m"));
  assert.match(r.text, /^amphi_last_run_timestamp_seconds\{env="local"\} \d+(\.\d+)?$/m);
  assert.match(r.text, /^amphi_drift_items\{env="local",kind="update"\} 0$/m);
});

test("POST /v1/runs: 202 with the run ID, the run finishes and is listed; 409 while busy; bad requests", async () => {
  const [a, b] = await Promise.all([0, 1].map(() => http(`${srv.url}/v1/runs`, { method: "POST", body: JSON.stringify({ env: "local" }) })));
  const accepted = [a!, b!].find((x) => x.status === 202)!;
  const refused = [a!, b!].find((x) => x.status === 409)!;
  assert.ok(accepted && refused, `${a!.status} ${b!.status}`);
  assert.match(accepted.body.id, /^r-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
  assert.equal(accepted.headers.get("location"), `/v1/runs/${accepted.body.id}`);
  assert.match(refused.body.error, new RegExp(`environment local is being reconciled \\(run ${accepted.body.id} since `));
  const run = await finished(accepted.body.id);
  assert.equal(run.state, "succeeded");
  assert.equal(run.revision, repo.sha);
  assert.equal(run.message, "in sync: nothing to change");
  const list = await http(`${srv.url}/v1/runs?env=local`);
  assert.equal(list.body[0].id, accepted.body.id);
  assert.equal((await http(`${srv.url}/v1/runs?env=other`)).body.length, 0);
  assert.equal((await http(`${srv.url}/v1/runs`, { method: "POST", body: JSON.stringify({ env: "prod" }) })).status, 404);
  assert.equal((await http(`${srv.url}/v1/runs`, { method: "POST", body: "{nope" })).status, 400);
  assert.equal((await http(`${srv.url}/v1/runs/r-nope`)).status, 404);
  assert.equal((await http(`${srv.url}/v1/tasks/r-nope.1`)).status, 404);
  assert.equal((await http(`${srv.url}/v1/nothing`)).status, 404);
  assert.equal((await http(`${srv.url}/v1/runs`, { method: "DELETE" })).status, 405);
});

function github(body: string, secret = SECRET): Record<string, string> {
  return { "Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}` };
}

test("a GitHub push with a good signature reconciles the pushed commit at once", async () => {
  setBillingEnv(repo.dir, "2.3.0-hook");
  const sha = await repo.commit("billing: hook");
  const body = JSON.stringify({ ref: "refs/heads/main", after: sha, repository: { full_name: "o/config" } });
  const r = await http(`${srv.url}/v1/hooks/git`, { method: "POST", headers: github(body), body });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.runs.length, 1);
  assert.equal(r.body.runs[0].env, "local");
  const run = await finished(r.body.runs[0].id);
  assert.equal(run.state, "succeeded", JSON.stringify(run));
  assert.equal(run.revision, sha);
  assert.equal(billingEnvOnHost(repo.dir), "2.3.0-hook");
  // The serve also watches the repo directory: its own cycle may have applied the commit a moment before
  // the hook's run (which then had nothing to do). Either way one run of this revision deployed billing.
  const runs = (await http(`${srv.url}/v1/runs?env=local`)).body as { id: string; revision: string; tasks: { id: string; app: string }[] }[];
  const deployed = runs.filter((x) => x.revision === sha).flatMap((x) => x.tasks).find((t) => t.app === "billing");
  assert.ok(deployed, `a run of ${sha} deployed billing: ${JSON.stringify(runs.map((x) => [x.id, x.revision, x.tasks.length]))}`);
  const task = await http(`${srv.url}/v1/tasks/${deployed.id}`);
  assert.equal(task.status, 200);
  assert.equal(task.body.kind, "deploy");
  assert.equal(task.body.app, "billing");
});

test("webhooks with a bad or missing signature are refused with 401; Gitea and GitLab forms are accepted", async () => {
  const body = JSON.stringify({ ref: "refs/heads/main", after: repo.sha });
  const post = (headers: Record<string, string>, b = body) => http(`${srv.url}/v1/hooks/git`, { method: "POST", headers, body: b });
  const bad = await post(github(body, "wrong-secret"));
  assert.equal(bad.status, 401);
  assert.match(bad.body.error, /X-Hub-Signature-256 does not match/);
  assert.equal((await post({ "X-GitHub-Event": "push" })).status, 401);
  assert.equal((await post({ ...github(body), "X-Hub-Signature-256": "sha256=zz" })).status, 401);
  assert.equal((await post(github(body), body + " ")).status, 401, "a changed body breaks the signature");
  const gitea = await post({ "X-Gitea-Event": "push", "X-Gitea-Signature": createHmac("sha256", SECRET).update(body).digest("hex") });
  assert.equal(gitea.status, 202, gitea.text);
  assert.equal((await post({ "X-Gitea-Event": "push", "X-Gitea-Signature": "00" })).status, 401);
  const gitlab = await post({ "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET });
  assert.equal(gitlab.status, 202, gitlab.text);
  assert.equal((await post({ "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "nope" })).status, 401);
  const other = JSON.stringify({ ref: "refs/heads/feature", after: repo.sha });
  const none = await post(github(other), other);
  assert.equal(none.status, 202);
  assert.deepEqual(none.body.runs, [], "no environment follows that branch");
  const ping = await post({ "X-GitHub-Event": "ping", "X-Hub-Signature-256": github("{}")["X-Hub-Signature-256"]! }, "{}");
  assert.equal(ping.status, 200);
  assert.equal((await post({})).status, 400);
  for (const id of [gitea.body.runs[0]?.id, gitlab.body.runs[0]?.id]) if (id) await finished(id);
});

test("without a secret, hooks are accepted only from loopback", async (t) => {
  assert.equal(isLoopback("127.0.0.1"), true);
  assert.equal(isLoopback("::1"), true);
  assert.equal(isLoopback("::ffff:127.0.0.5"), true);
  assert.equal(isLoopback("192.0.2.2"), false);
  assert.equal(isLoopback("::ffff:10.0.0.1"), false);
  const external = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === "IPv4")?.address;
  if (!external) return t.skip("no non-loopback IPv4 address on this machine: only the predicate was tested");
  const open = await serve(["--repo", repo.dir, "--listen", `${external}:0`, "--interval", "1h", "--env", "local", "--lock-timeout", "60s"], repo.dir);
  try {
    assert.match(open.log(), /no webhook secret .*accepted only from loopback addresses/);
    const body = JSON.stringify({ ref: "refs/heads/main", after: repo.sha });
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${open.url}/v1/hooks/git`);
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", localAddress: external, headers: { "X-GitHub-Event": "push" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end(body);
    });
    assert.equal(status, 403);
  } finally {
    assert.equal(await open.stop(), 0);
  }
});
