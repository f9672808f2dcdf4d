// What each forge does its own way: GitHub's 140-character limit (422) and validation errors, GitLab's
// state names and its 400 on a repeated pending/running state, Gitea/GitLab URLs with or without the API
// path; the doubles themselves answer as the forges document.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { CommitStatus } from "../../src/health/status.js";
import { giteaApi, gitlabApi, gitlabReporter, githubReporter, giteaReporter, type HttpReporterOptions } from "../../src/adapters/forge/index.js";
import { startForgeDouble, type ForgeDouble } from "../support/forge-doubles.js";

const SHA = "9a0b1c2d58a3190c6e18aaffeb33c4e9819aaead";
const FAST: HttpReporterOptions = { baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 2_000 };
let gh: ForgeDouble;
let gl: ForgeDouble;
let gt: ForgeDouble;

before(async () => {
  [gh, gl, gt] = await Promise.all([startForgeDouble("github"), startForgeDouble("gitlab"), startForgeDouble("gitea")]);
});
after(() => Promise.all([gh.close(), gl.close(), gt.close()]));

const tokenOf = (d: ForgeDouble) => ({ env: "T", value: d.token });

test("GitHub double: a description over 140 characters is a 422, as on github.com", async () => {
  const res = await fetch(`${gh.url}/repos/${gh.repository}/statuses/${SHA}`, {
    method: "POST",
    headers: { authorization: `Bearer ${gh.token}`, "content-type": "application/json" },
    body: JSON.stringify({ state: "success", context: "c", description: "x".repeat(141) }),
  });
  assert.equal(res.status, 422);
  assert.match(((await res.json()) as { errors: { message: string }[] }).errors[0]!.message, /description is too long \(maximum is 140 characters\)/);
});

test("GitHub reporter: a long description is cut to 140 with … before sending, so it lands", async () => {
  const s: CommitStatus = { context: "amphi/prod/long", state: "failure", description: `${"vm-1 degraded · ".repeat(20)}end` };
  const [r] = await githubReporter(gh.repository, tokenOf(gh), { ...FAST, api: gh.url }).post(SHA, [s]);
  assert.deepEqual([r!.ok, r!.httpStatus], [true, 201]);
  const stored = gh.statuses(SHA).find((x) => x.context === "amphi/prod/long")!;
  assert.equal(stored.description.length, 140);
  assert.ok(stored.description.endsWith("…"));
});

test("GitHub reporter: a 422 is reported with GitHub's words and not retried", async () => {
  const from = gh.requests.length;
  const bad = { context: "amphi/prod/x", state: "warning", description: "" } as unknown as CommitStatus;
  const [r] = await githubReporter(gh.repository, tokenOf(gh), { ...FAST, api: gh.url }).post(SHA, [bad]);
  assert.deepEqual([r!.ok, r!.attempts, r!.httpStatus], [false, 1, 422]);
  assert.equal(r!.error, "github status amphi/prod/x on 9a0b1c2d58a3: HTTP 422: Validation Failed: state is not included in the list");
  assert.equal(gh.requests.length - from, 1);
});

test("GitLab: states in GitLab's words; the same running state twice answers 400 and counts as posted", async () => {
  const r = gitlabReporter(gl.repository, tokenOf(gl), { ...FAST, url: gl.url });
  const pending: CommitStatus = { context: "amphi/prod/user", state: "pending", description: "0/1 healthy · eu1 progressing" };
  const first = await r.post(SHA, [pending]);
  const again = await r.post(SHA, [pending]);
  assert.deepEqual([first[0]!.ok, first[0]!.httpStatus], [true, 201]);
  assert.deepEqual([again[0]!.ok, again[0]!.httpStatus, again[0]!.attempts, again[0]!.error], [true, 400, 1, null]);
  const done = await r.post(SHA, [{ ...pending, state: "success", description: "1/1 healthy" }]);
  assert.deepEqual([done[0]!.ok, done[0]!.httpStatus], [true, 201]);
  const errors = await r.post(SHA, [{ context: "amphi/prod/web", state: "error", description: "0/1 healthy · eu1 unknown" }]);
  assert.equal(errors[0]!.ok, true);
  assert.deepEqual(gl.statuses(SHA).map((s) => [s.context, s.state]), [["amphi/prod/user", "success"], ["amphi/prod/web", "failed"]]);
});

test("GitLab: a 400 that is not a repeated state fails without retry", async () => {
  const r = gitlabReporter(gl.repository, tokenOf(gl), { ...FAST, url: gl.url });
  const from = gl.requests.length;
  const [res] = await r.post(SHA, [{ context: "amphi/prod/x", state: "bogus", description: "" } as unknown as CommitStatus]);
  assert.deepEqual([res!.ok, res!.attempts, res!.httpStatus], [false, 1, 400]);
  assert.match(res!.error!, /: HTTP 400: state does not have a valid value$/);
  assert.equal(gl.requests.length - from, 1);
});

test("Gitea and GitLab URLs work with or without their API path", async () => {
  assert.equal(giteaApi("https://git.example.com/"), "https://git.example.com/api/v1");
  assert.equal(giteaApi("https://git.example.com/api/v1"), "https://git.example.com/api/v1");
  assert.equal(gitlabApi("https://gitlab.example.com/gitlab"), "https://gitlab.example.com/gitlab/api/v4");
  assert.equal(gitlabApi("https://gitlab.example.com/api/v4/"), "https://gitlab.example.com/api/v4");
  const [a] = await giteaReporter(gt.repository, tokenOf(gt), { ...FAST, url: `${gt.url}/api/v1` }).post(SHA, [{ context: "c1", state: "success", description: "ok" }]);
  const [b] = await giteaReporter(gt.repository, tokenOf(gt), { ...FAST, url: gt.url }).post(SHA, [{ context: "c2", state: "success", description: "ok" }]);
  assert.ok(a!.ok && b!.ok);
  assert.deepEqual(gt.statuses(SHA).map((s) => s.context), ["c1", "c2"]);
});
