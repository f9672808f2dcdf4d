// The HTTP status reporters (GitHub, Gitea/Forgejo, GitLab) against their test doubles: path, auth header,
// body shape; retries with backoff on 502 and timeouts; no retry on 4xx; `post` never throws; the token in
// no result or error text, even when an error body echoes it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../support/ports.js";
import type { CommitStatus } from "../../src/health/status.js";
import type { StatusModel } from "../../src/model/index.js";
import { reporterFor, type HttpReporterOptions, type PostResult, type StatusReporter } from "../../src/adapters/forge/index.js";
import { startForgeDouble, type ForgeDouble, type ForgeKind } from "../support/forge-doubles.js";

const SHA = "3f1a9c0d2b7e4f6a8c1d3e5f7a9b0c2d4e6f8a1b";
const STATUSES: CommitStatus[] = [
  { context: "amphi/prod/billing", state: "failure", description: "2/3 healthy · vm-3 missing in Consul", targetUrl: "https://ci.example.com/drift.html" },
  { context: "amphi/prod/user", state: "success", description: "1/1 healthy" },
];
const FAST: HttpReporterOptions = { baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 2_000 };

function reporter(d: ForgeDouble, opts: HttpReporterOptions = FAST, token = d.token): StatusReporter {
  const status: StatusModel = { provider: d.kind, url: d.url, repository: d.repository, tokenEnv: "AMPHI_FORGE_TOKEN", reportUrl: null };
  return reporterFor(status, { env: { AMPHI_FORGE_TOKEN: token }, repoDir: null, ...opts });
}

const EXPECTED: Record<ForgeKind, { path: string; auth: [string, string]; body: (s: CommitStatus) => object }> = {
  github: {
    path: `/repos/example/shop-config/statuses/${SHA}`,
    auth: ["authorization", "Bearer "],
    body: (s) => ({ state: s.state, description: s.description, context: s.context, ...(s.targetUrl ? { target_url: s.targetUrl } : {}) }),
  },
  gitea: {
    path: `/api/v1/repos/example/shop-config/statuses/${SHA}`,
    auth: ["authorization", "token "],
    body: (s) => ({ state: s.state, description: s.description, context: s.context, ...(s.targetUrl ? { target_url: s.targetUrl } : {}) }),
  },
  gitlab: {
    path: `/api/v4/projects/group%2Fsub%2Fshop-config/statuses/${SHA}`,
    auth: ["private-token", ""],
    body: (s) => ({ state: s.state === "failure" ? "failed" : s.state, name: s.context, description: s.description, ...(s.targetUrl ? { target_url: s.targetUrl } : {}) }),
  },
};

function assertNoToken(results: PostResult[], token: string): void {
  const text = JSON.stringify(results);
  assert.ok(!text.includes(token), `the token leaked into results: ${text}`);
}

for (const kind of ["github", "gitea", "gitlab"] as const) {
  describe(`${kind} reporter`, () => {
    let d: ForgeDouble;
    before(async () => {
      d = await startForgeDouble(kind);
    });
    after(() => d.close());

    test("posts one request per status: the forge's path, auth header and body", async () => {
      const from = d.requests.length;
      const results = await reporter(d).post(SHA, STATUSES);
      assert.deepEqual(results.map((r) => [r.context, r.ok, r.httpStatus, r.attempts, r.error]), STATUSES.map((s) => [s.context, true, 201, 1, null]));
      const reqs = d.requests.slice(from);
      const want = EXPECTED[kind];
      assert.equal(reqs.length, 2);
      for (const r of reqs) {
        assert.equal(r.method, "POST");
        assert.equal(r.path, want.path);
        assert.equal(r.headers[want.auth[0]], `${want.auth[1]}${d.token}`);
        assert.equal(r.headers["content-type"], "application/json");
        const b = r.body as { context?: string; name?: string };
        assert.deepEqual(r.body, want.body(STATUSES.find((s) => s.context === (b.context ?? b.name))!));
      }
      assert.deepEqual(d.statuses(SHA).map((s) => s.context).sort(), STATUSES.map((s) => s.context).sort());
    });

    test("502 twice, then 201: retried with backoff, posted on the third try", async () => {
      const sleeps: number[] = [];
      const r = reporter(d, { ...FAST, baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
      d.failNext(2, 502);
      const [result] = await r.post(SHA, [STATUSES[1]!]);
      assert.deepEqual([result!.ok, result!.attempts, result!.httpStatus], [true, 3, 201]);
      assert.deepEqual(sleeps, [75, 150], "exponential steps (100, 200) with equal jitter");
    });

    test("5xx on every try: 4 tries, a failed result naming the cause, no throw, no token", async () => {
      d.failNext(4, 503, true);
      const results = await reporter(d).post(SHA, [STATUSES[0]!]);
      const [r] = results;
      assert.deepEqual([r!.ok, r!.attempts, r!.httpStatus], [false, 4, 503]);
      assert.match(r!.error!, new RegExp(`^${kind} status amphi/prod/billing on 3f1a9c0d2b7e: HTTP 503: 503 from the ${kind} double .*\\(gave up after 4 tries\\)$`));
      assert.match(r!.error!, /\*\*\*/, "the echoed token was replaced");
      assertNoToken(results, d.token);
    });

    test("a 4xx is not retried: a wrong token fails at once, and neither token shows", async () => {
      const from = d.requests.length;
      const wrong = "wrong-token-value-123";
      const results = await reporter(d, FAST, wrong).post(SHA, [STATUSES[0]!]);
      assert.equal(d.requests.length - from, 1);
      assert.deepEqual([results[0]!.ok, results[0]!.attempts, results[0]!.httpStatus], [false, 1, 401]);
      assert.match(results[0]!.error!, /HTTP 401/);
      assertNoToken(results, wrong);
      assertNoToken(results, d.token);
    });

    test("a request without an answer times out and is retried", async () => {
      d.hangNext(1);
      const [r] = await reporter(d, { ...FAST, timeoutMs: 500 }).post(SHA, [STATUSES[1]!]);
      // The first request hangs and times out; a retry succeeds. Under load an answered retry can also outlast
      // the timeout (seen at load 27: three attempts), so the count is at least 2, not exactly 2.
      assert.equal(r!.ok, true, r!.error ?? undefined);
      assert.ok(r!.attempts >= 2, `attempts: ${r!.attempts}`);
    });

    test("the token variable unset or a bad SHA: nothing is sent, every status fails with the reason", async () => {
      const from = d.requests.length;
      const unset = await reporter(d, FAST, "").post(SHA, STATUSES);
      assert.ok(unset.every((r) => !r.ok && r.attempts === 0 && /environment variable AMPHI_FORGE_TOKEN \(status\.tokenEnv\) is not set/.test(r.error!)));
      const bad = await reporter(d).post("HEAD", STATUSES);
      assert.ok(bad.every((r) => !r.ok && /"HEAD" is not a full commit SHA/.test(r.error!)));
      assert.equal(d.requests.length, from);
    });
  });
}

test("a forge that cannot be reached: every status fails after its tries, post resolves", async () => {
  const port = await freePort(); // reserved for this process, nothing listens there
  const status: StatusModel = { provider: "github", url: `http://127.0.0.1:${port}`, repository: "example/shop-config", tokenEnv: "T", reportUrl: null };
  const results = await reporterFor(status, { env: { T: "tok-unreachable-1" }, repoDir: null, ...FAST }).post(SHA, STATUSES);
  assert.deepEqual(results.map((r) => [r.ok, r.attempts, r.httpStatus]), [[false, 4, null], [false, 4, null]]);
  assert.match(results[0]!.error!, /ECONNREFUSED.*\(gave up after 4 tries\)/);
  assertNoToken(results, "tok-unreachable-1");
});
