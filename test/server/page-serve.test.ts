// The fleet page through a real `amphi serve` on the example's local environment: on loopback the page is open
// and shows the environment's matrix after the first cycle, with its CSP and no-store headers; from a
// non-loopback source address of this machine (as api-access.test.ts does) it needs the API token — without
// it a 401 with the sign-in form and never the page; POST /login with the right token sets an HttpOnly,
// SameSite=Strict session cookie that is not the token and opens the page and GET /v1/runs, never POST /v1/runs;
// a wrong token is a 401; the token never reaches the log. Unknown environments are 404, bad filters 400.
// The server refuses a session cookie 12 hours after it was issued (or re-dated, or of the first, timeless
// format); the cookie is Secure behind a TLS proxy; HEAD answers like GET without a body.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { request } from "node:http";
import { networkInterfaces } from "node:os";
import { loopRepo, type LoopRepo } from "../loop/support.js";
import { SESSION_COOKIE, sessionValue } from "../../src/server/access.js";
import { eventually, serve, type Serving } from "./support.js";

const TOKEN = "page-token-for-tests-7c2e91d04b";
const external = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === "IPv4")?.address;
const skip = external ? false : process.env.CI === "true" ? false : "no non-loopback IPv4 address on this machine";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function call(to: string, port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: to, port, path, method, localAddress: to, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on("error", reject);
    req.end(body);
  });
}

describe("the fleet page in amphi serve", { skip }, () => {
  let repo: LoopRepo;
  let srv: Serving;
  const port = () => Number(new URL(srv.url).port);
  const remote = (method: string, path: string, headers: Record<string, string> = {}, body?: string) => call(external!, port(), method, path, headers, body);
  const local = (method: string, path: string, headers: Record<string, string> = {}) => call("127.0.0.1", port(), method, path, headers);

  before(async () => {
    repo = await loopRepo("amphi-page-serve");
    srv = await serve(["--repo", repo.dir, "--env", "local", "--listen", ":0", "--interval", "1h", "--api-token-env", "AMPHI_TEST_API_TOKEN"], repo.dir, { ...process.env, AMPHI_TEST_API_TOKEN: TOKEN });
    await eventually(async () => (/local (applied|in-sync) \(start\)/.test(srv.log()) ? true : undefined), 90_000, "the first cycle");
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0);
    await repo?.cleanup();
  });

  test("loopback: the page shows the environment's matrix after the first cycle, with its CSP and no-store", async () => {
    const page = await eventually(async () => {
      const r = await local("GET", "/");
      return r.status === 200 && r.text.includes('<table class="matrix" data-env="local"') ? r : undefined;
    }, 30_000, "the page with the first cycle's report");
    assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(page.headers["content-security-policy"], "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    assert.equal(page.headers["cache-control"], "no-store");
    assert.equal(page.headers["x-content-type-options"], "nosniff");
    for (const app of ["billing", "catalog"]) assert.match(page.text, new RegExp(`<tr data-app="${app}">[\\s\\S]*?data-column="here" data-status="in-sync" data-health="healthy" data-version="\\d+\\.\\d+\\.\\d+"`));
    assert.match(page.text, /<a href="\/v1\/runs\/r-[^"]+"><code>r-/, "the run timeline links to the runs");
    const one = await local("GET", "/env/local?status=not-in-sync");
    assert.equal(one.status, 200);
    assert.match(one.text, /0 of 2 rows shown \(filtered\)/);
    assert.equal((await local("GET", "/env/nope")).status, 404);
    const bad = await local("GET", "/?status=green");
    assert.equal(bad.status, 400);
    assert.match(bad.text, /status=green is not a status/);
    assert.equal((await local("POST", "/")).status, 405);
  });

  test("off loopback without the token: 401 with the sign-in form, never the page", async () => {
    for (const path of ["/", "/env/local", "/?app=billing"]) {
      const r = await remote("GET", path);
      assert.equal(r.status, 401, `${path}: ${r.text.slice(0, 200)}`);
      assert.equal(r.headers["www-authenticate"], 'Bearer realm="amphi"');
      assert.match(r.text, /<form method="post" action="\/login">/);
      assert.doesNotMatch(r.text, /class="matrix"|data-app=|billing|catalog/);
    }
    const proxied = await local("GET", "/", { "X-Forwarded-For": "203.0.113.9" });
    assert.equal(proxied.status, 401, "a request a local proxy forwards is not loopback's");
  });

  test("POST /login: a wrong token is 401; the right one sets a session cookie that opens the page and reads runs only", async () => {
    const form = { "Content-Type": "application/x-www-form-urlencoded" };
    const wrong = await remote("POST", "/login", form, "token=not-the-token-at-all");
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers["set-cookie"], undefined);
    assert.doesNotMatch(wrong.text, /not-the-token-at-all/);
    const ok = await remote("POST", "/login", form, `token=${encodeURIComponent(TOKEN)}`);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.location, "/");
    const set = String(ok.headers["set-cookie"]);
    assert.match(set, /^amphi_session=\d+\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/, "plain HTTP: no Secure");
    assert.ok(!set.includes(TOKEN), "the cookie is not the token");
    const cookie = set.split(";")[0]!;
    const page = await remote("GET", "/", { Cookie: cookie });
    assert.equal(page.status, 200);
    assert.match(page.text, /<table class="matrix" data-env="local"/);
    assert.equal((await remote("GET", "/v1/runs", { Cookie: cookie })).status, 200);
    const post = await remote("POST", "/v1/runs", { Cookie: cookie, "Content-Type": "application/json" }, JSON.stringify({ env: "local" }));
    assert.equal(post.status, 401, "the cookie never starts a run (no cross-site POST can)");
    assert.equal((await remote("GET", "/", { Authorization: `Bearer ${TOKEN}` })).status, 200, "a bearer token opens the page too");
  });

  test("HEAD answers like GET without a body: the page, the sign-in form, a refusal", async () => {
    for (const path of ["/", "/env/local", "/login"]) {
      const get = await local("GET", path);
      const head = await local("HEAD", path);
      assert.equal(head.status, 200, path);
      assert.equal(head.text, "", `${path}: no body`);
      assert.equal(head.headers["content-type"], "text/html; charset=utf-8");
      assert.equal(head.headers["content-security-policy"], get.headers["content-security-policy"]);
      assert.ok(Number(head.headers["content-length"]) > 0, `${path}: the length GET's body has`);
    }
    assert.equal((await local("HEAD", "/healthz")).status, 200);
    const refused = await remote("HEAD", "/");
    assert.equal(refused.status, 401);
    assert.equal(refused.text, "");
    assert.equal((await local("HEAD", "/env/nope")).status, 404);
  });

  test("an expired, re-dated or first-version session cookie is refused; Secure is set behind a TLS proxy", async () => {
    const now = Date.now();
    const old = sessionValue(TOKEN, now - 13 * 3600_000);
    const expired = await remote("GET", "/", { Cookie: `${SESSION_COOKIE}=${old}` });
    assert.equal(expired.status, 401, "issued 13 hours ago");
    assert.match(expired.text, /your session has expired: sign in again/);
    assert.doesNotMatch(expired.text, /class="matrix"/);
    assert.equal((await remote("GET", "/v1/runs", { Cookie: `${SESSION_COOKIE}=${old}` })).status, 401);
    const redated = `${Math.floor(now / 1000)}.${old.split(".")[1]}`;
    assert.equal((await remote("GET", "/", { Cookie: `${SESSION_COOKIE}=${redated}` })).status, 401, "the MAC covers the issue time");
    const v1 = createHmac("sha256", TOKEN).update("amphi fleet page session v1").digest("base64url");
    assert.equal((await remote("GET", "/", { Cookie: `${SESSION_COOKIE}=${v1}` })).status, 401, "the first version's timeless cookie");
    assert.equal((await remote("GET", "/", { Cookie: `${SESSION_COOKIE}=${sessionValue(TOKEN, now - 60_000)}` })).status, 200, "a fresh one opens it");
    const form = { "Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-Proto": "https" };
    const ok = await remote("POST", "/login", form, `token=${encodeURIComponent(TOKEN)}`);
    assert.equal(ok.status, 303);
    assert.match(String(ok.headers["set-cookie"]), /^amphi_session=\d+\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
  });

  test("the token never appears in the output", () => {
    assert.equal(srv.log().includes(TOKEN), false);
    assert.match(srv.log(), /the fleet page \(\/\) needs the same token \(sign in at \/login\)/);
  });
});
