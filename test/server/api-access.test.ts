// Who may use amphi serve's API, with real HTTP requests from a loopback and from a non-loopback source
// address of this machine (the first non-internal IPv4 address: the server listens on every interface with
// `--listen :0`, the client binds its socket to that address, so the server sees a peer that is not
// loopback). Off loopback, /v1/* needs `Authorization: Bearer` with the token of --api-token-env (refused
// with 403 without one), the webhook keeps its HMAC check, /healthz and /metrics stay open; a start beyond
// loopback warns on stderr; the token never appears in the output. Also: undecodable percent-encoding in
// the path or the query of any route is a 400, not a 500.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { request } from "node:http";
import { networkInterfaces } from "node:os";
import { loopRepo, type LoopRepo } from "../loop/support.js";
import { amphi } from "../support/cli.js";
import { exposureWarning } from "../../src/server/access.js";
import { eventually, serve, type Serving } from "./support.js";

const TOKEN = "api-token-for-tests-5b1f0c2e9a";
const SECRET = "hook-secret-for-tests";
const external = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === "IPv4")?.address;
// In CI the machine has a network interface: fail rather than skip when it has none.
const skip = external ? false : process.env.CI === "true" ? false : "no non-loopback IPv4 address on this machine";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** One request to port `port` of `to`, from the socket address `from` (raw path: no client-side normalisation). */
function call(to: string, port: number, from: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: to, port, path, method, localAddress: from, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on("error", reject);
    req.end(body);
  });
}

const portOf = (s: Serving): number => Number(new URL(s.url).port);

describe("amphi serve beyond loopback", { skip }, () => {
  let repo: LoopRepo;
  let srv: Serving;
  const remote = (method: string, path: string, headers: Record<string, string> = {}, body?: string) => call(external!, portOf(srv), external!, method, path, headers, body);
  const local = (method: string, path: string, headers: Record<string, string> = {}, body?: string) => call("127.0.0.1", portOf(srv), "127.0.0.1", method, path, headers, body);

  before(async () => {
    repo = await loopRepo("amphi-api-access");
  });
  after(async () => {
    await repo?.cleanup();
  });

  describe("with --api-token-env", () => {
    before(async () => {
      srv = await serve(
        ["--repo", repo.dir, "--env", "local", "--listen", ":0", "--interval", "1h", "--lock-timeout", "60s", "--api-token-env", "AMPHI_TEST_API_TOKEN", "--webhook-secret-env", "AMPHI_TEST_HOOK_SECRET"],
        repo.dir,
        { ...process.env, AMPHI_TEST_API_TOKEN: TOKEN, AMPHI_TEST_HOOK_SECRET: SECRET },
      );
      await eventually(async () => (/local (applied|in-sync) \(start\)/.test(srv.log()) ? true : undefined), 60_000, "the first cycle");
    });
    after(async () => {
      if (srv) assert.equal(await srv.stop(), 0);
    });

    test("the start warns that it listens beyond loopback and names what is open", () => {
      const warning = srv.log().split("\n").find((l) => /warning: listening on /.test(l));
      assert.ok(warning, srv.log());
      assert.match(warning, /0\.0\.0\.0:\d+ \(every IPv4 interface\) is beyond loopback/);
      assert.match(warning, /GET \/healthz and GET \/metrics are open to anyone who reaches the port/);
      assert.match(warning, /\/v1\/runs and \/v1\/tasks need "Authorization: Bearer" with the token of AMPHI_TEST_API_TOKEN/);
      assert.match(warning, /POST \/v1\/hooks\/git needs the signature of AMPHI_TEST_HOOK_SECRET/);
    });

    test("off loopback: /v1/* without the right bearer token is 401 with WWW-Authenticate", async () => {
      for (const [method, path] of [["GET", "/v1/runs"], ["POST", "/v1/runs"], ["GET", "/v1/runs/r-nope"], ["GET", "/v1/tasks/r-nope.1"], ["GET", "/v1/nothing"]] as const) {
        const none = await remote(method, path, {}, method === "POST" ? JSON.stringify({ env: "local" }) : undefined);
        assert.equal(none.status, 401, `${method} ${path}: ${none.text}`);
        assert.equal(none.headers["www-authenticate"], 'Bearer realm="amphi"');
        assert.match(none.body.error, /needs "Authorization: Bearer <token>" \(the token of --api-token-env\)/);
      }
      for (const auth of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, "Bearer ", `Basic ${Buffer.from(`amphi:${TOKEN}`).toString("base64")}`, TOKEN]) {
        const bad = await remote("GET", "/v1/runs", { Authorization: auth });
        assert.equal(bad.status, 401, `${auth}: ${bad.text}`);
        assert.match(String(bad.headers["www-authenticate"]), /^Bearer realm="amphi"/);
      }
      const wrong = await remote("GET", "/v1/runs", { Authorization: "Bearer wrong-token" });
      assert.equal(wrong.headers["www-authenticate"], 'Bearer realm="amphi", error="invalid_token"');
      assert.doesNotMatch(wrong.text, /wrong-token/);
    });

    test("off loopback: the right bearer token opens /v1/runs and /v1/tasks", async () => {
      const auth = { Authorization: `Bearer ${TOKEN}` };
      const list = await remote("GET", "/v1/runs", auth);
      assert.equal(list.status, 200, list.text);
      assert.ok(Array.isArray(list.body) && list.body.length >= 1);
      const lower = await remote("GET", "/v1/runs", { Authorization: `bearer ${TOKEN}` });
      assert.equal(lower.status, 200, "the scheme is case-insensitive (RFC 7235)");
      const started = await remote("POST", "/v1/runs", { ...auth, "Content-Type": "application/json" }, JSON.stringify({ env: "local" }));
      assert.ok([202, 409].includes(started.status), started.text);
      const id: string = started.body.id ?? started.body.runId;
      const run = await eventually(async () => {
        const r = await remote("GET", `/v1/runs/${id}`, auth);
        return r.status === 200 && ["succeeded", "failed", "cancelled"].includes(r.body.state) ? r.body : undefined;
      }, 60_000, `run ${id}`);
      assert.equal(run.id, id);
      const task = await remote("GET", `/v1/tasks/${id}.1`, auth);
      assert.ok(task.status === 200 ? task.body.id === `${id}.1` : task.status === 404 && /^no task /.test(task.body.error), task.text);
    });

    test("off loopback: /healthz and /metrics stay open (probes and Prometheus scrapes carry no token)", async () => {
      const h = await remote("GET", "/healthz");
      assert.equal(h.status, 200);
      assert.equal(h.text, "ok\n");
      const m = await remote("GET", "/metrics");
      assert.equal(m.status, 200);
      assert.match(m.text, /^# TYPE amphi_runs_total counter$/m);
    });

    test("off loopback: the webhook keeps its HMAC check and needs no bearer token", async () => {
      const body = JSON.stringify({ ref: "refs/heads/nobody-follows-this", after: repo.sha });
      const sig = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
      const ok = await remote("POST", "/v1/hooks/git", { "X-GitHub-Event": "push", "X-Hub-Signature-256": sig }, body);
      assert.equal(ok.status, 202, ok.text);
      const bad = await remote("POST", "/v1/hooks/git", { "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=00", Authorization: `Bearer ${TOKEN}` }, body);
      assert.equal(bad.status, 401, "a bearer token does not replace the signature");
    });

    test("loopback stays as it was: no token needed, but a proxied request (X-Forwarded-For, Forwarded) is remote", async () => {
      assert.equal((await local("GET", "/v1/runs")).status, 200);
      assert.equal((await local("GET", "/v1/runs/r-nope")).status, 404);
      const proxied = await local("GET", "/v1/runs", { "X-Forwarded-For": "203.0.113.9" });
      assert.equal(proxied.status, 401, proxied.text);
      assert.equal((await local("GET", "/v1/runs", { Forwarded: "for=203.0.113.9" })).status, 401);
      assert.equal((await local("GET", "/v1/runs", { "X-Forwarded-For": "203.0.113.9", Authorization: `Bearer ${TOKEN}` })).status, 200);
    });

    test("the token never appears in the output", () => {
      assert.equal(srv.log().includes(TOKEN), false);
      assert.equal(srv.log().includes(TOKEN.slice(0, 12)), false);
    });
  });

  describe("without --api-token-env", () => {
    before(async () => {
      srv = await serve(["--repo", repo.dir, "--env", "local", "--listen", ":0", "--interval", "1h", "--lock-timeout", "60s"], repo.dir);
      await eventually(async () => (/local (applied|in-sync) \(start\)/.test(srv.log()) ? true : undefined), 60_000, "the first cycle");
    });
    after(async () => {
      if (srv) assert.equal(await srv.stop(), 0);
    });

    test("the warning says the API and the webhook are refused off loopback", () => {
      const warning = srv.log().split("\n").find((l) => /warning: listening on /.test(l)) ?? "";
      assert.match(warning, /\/v1\/runs and \/v1\/tasks are refused off loopback \(no --api-token-env\)/);
      assert.match(warning, /POST \/v1\/hooks\/git is refused off loopback \(no --webhook-secret-env\)/);
    });

    test("off loopback: /v1/* is 403 naming --api-token-env, even with a bearer token; loopback is 200", async () => {
      for (const [method, path] of [["GET", "/v1/runs"], ["POST", "/v1/runs"], ["GET", "/v1/runs/r-nope"], ["GET", "/v1/tasks/r-nope.1"]] as const) {
        const r = await remote(method, path, { Authorization: "Bearer anything-at-all-here" }, method === "POST" ? JSON.stringify({ env: "local" }) : undefined);
        assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
        assert.match(r.body.error, /the API answers only loopback peers: start amphi serve with --api-token-env NAME/);
      }
      assert.equal((await remote("GET", "/healthz")).status, 200);
      assert.equal((await remote("GET", "/metrics")).status, 200);
      assert.equal((await local("GET", "/v1/runs")).status, 200);
    });
  });
});

test("the start warning: every address beyond loopback, never a loopback one", () => {
  for (const address of ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"]) assert.equal(exposureWarning({ address, family: address.includes(":") ? "IPv6" : "IPv4", port: 8080 }, null, null), null, address);
  assert.match(exposureWarning({ address: "::", family: "IPv6", port: 8080 }, "TOK", null)!, /^amphi: warning: listening on \[::\]:8080 \(every interface\) is beyond loopback: .*with the token of TOK; POST \/v1\/hooks\/git is refused off loopback/);
  assert.match(exposureWarning({ address: "0.0.0.0", family: "IPv4", port: 80 }, null, "SEC")!, /listening on 0\.0\.0\.0:80 \(every IPv4 interface\).*are refused off loopback \(no --api-token-env\); POST \/v1\/hooks\/git needs the signature of SEC; the fleet page \(\/\) is refused off loopback$/);
  assert.match(exposureWarning({ address: "192.0.2.7", family: "IPv4", port: 8080 }, null, null)!, /listening on 192\.0\.2\.7:8080 \(an address other machines can reach\)/);
});

test("--api-token-env: an unset, short or unprintable token is refused at start, without printing it", async () => {
  const dir = process.cwd();
  const unset = await amphi(["serve", "--repo", dir, "--api-token-env", "AMPHI_TEST_NO_SUCH_VAR"], dir, { ...process.env, AMPHI_TEST_NO_SUCH_VAR: "" });
  assert.equal(unset.code, 1);
  assert.match(unset.stderr, /--api-token-env AMPHI_TEST_NO_SUCH_VAR: the environment variable AMPHI_TEST_NO_SUCH_VAR is not set or empty/);
  const short = await amphi(["serve", "--repo", dir, "--api-token-env", "T"], dir, { ...process.env, T: "s3cr3t-short" });
  assert.equal(short.code, 1);
  assert.match(short.stderr, /--api-token-env T: the token is 12 characters long; use at least 16/);
  const spaced = await amphi(["serve", "--repo", dir, "--api-token-env", "T"], dir, { ...process.env, T: "s3cr3t with spaces inside" });
  assert.equal(spaced.code, 1);
  assert.match(spaced.stderr, /--api-token-env T: the token must be printable ASCII without spaces/);
  assert.doesNotMatch(short.stderr + spaced.stderr, /s3cr3t/);
});

describe("amphi serve: undecodable percent-encoding", () => {
  let repo: LoopRepo;
  let srv: Serving;
  before(async () => {
    repo = await loopRepo("amphi-api-encoding");
    srv = await serve(["--repo", repo.dir, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h", "--lock-timeout", "60s"], repo.dir);
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0);
    await repo?.cleanup();
  });

  test("is a 400 naming the bad part on every route, in the path and in the query", async () => {
    const bad = "%E0%A4%A";
    const cases: [string, string][] = [
      ["GET", `/v1/runs/${bad}`], ["GET", `/v1/tasks/${bad}`], ["GET", `/v1/runs/r-1${bad}x`], ["GET", `/v1/${bad}`], ["GET", `/${bad}`], ["GET", "/v1/runs/%"],
      ["GET", `/healthz?x=${bad}`], ["GET", `/metrics?${bad}=1`], ["GET", `/v1/runs?env=${bad}`], ["GET", `/v1/runs?limit=5&env=local${bad}`],
      ["GET", `/v1/runs/r-1?x=${bad}`], ["GET", `/v1/tasks/r-1.1?x=${bad}`], ["POST", `/v1/runs?x=${bad}`], ["POST", `/v1/hooks/git?x=${bad}`],
      ["DELETE", `/v1/runs/${bad}`],
    ];
    for (const [method, path] of cases) {
      const r = await call("127.0.0.1", portOf(srv), "127.0.0.1", method, path, { "X-GitHub-Event": "ping" }, method === "POST" ? "{}" : undefined);
      assert.equal(r.status, 400, `${method} ${path}: ${r.status} ${r.text}`);
      assert.match(r.body?.error ?? "", /^the request (path|query) is not valid percent-encoding \(UTF-8\): /, `${method} ${path}`);
    }
    assert.doesNotMatch(srv.log(), /internal error|URI malformed/);
    // Well-formed encodings still work.
    assert.equal((await call("127.0.0.1", portOf(srv), "127.0.0.1", "GET", "/v1/runs/r-%C3%A9")).status, 404);
    assert.equal((await call("127.0.0.1", portOf(srv), "127.0.0.1", "GET", "/v1/runs?env=loc%61l")).status, 200);
  });
});
