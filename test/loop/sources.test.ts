// Sources of the loop: a local Git repo (HEAD commit; watched: a commit is a change, an edit is not), a plain
// directory (watched, debounced), a remote URL (bare mirror, fetch per snapshot, credentials never shown).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { git, tempRepo, type TempRepo } from "../support/git-repo.js";
import { openLocalSource, RemoteSource, mirrorDir, redactText, redactUrl } from "../../src/sources/index.js";
import { watchDir, ignored } from "../../src/adapters/watch/dir-watcher.js";
import { GitMirror } from "../../src/adapters/watch/git-mirror.js";

let repo: TempRepo;
let state = "";

before(async () => {
  repo = await tempRepo({ "apps/a/spec.yaml": "a: 1\n", "environments/e.yaml": "e: 1\n" }, "first");
  state = mkdtempSync(join(tmpdir(), "amphi-sources-"));
});

after(() => {
  repo.cleanup();
  rmSync(state, { recursive: true, force: true });
});

function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error("timed out"));
      setTimeout(tick, 20);
    };
    tick();
  });
}

test("a local Git repo is read at its HEAD commit, not its working tree", async () => {
  const src = await openLocalSource(repo.dir);
  assert.equal(src.kind, "git");
  repo.write({ "apps/a/spec.yaml": "a: dirty\n" });
  const snap = await src.snapshot(null);
  assert.match(snap.revision!, /^[0-9a-f]{40}$/);
  assert.equal(await snap.source.read("apps/a/spec.yaml"), "a: 1\n");
  snap.close();
  repo.write({ "apps/a/spec.yaml": "a: 1\n" });
  await assert.rejects(src.snapshot("nope"), /has no branch "nope" \(--branch\)/);
});

test("watching a Git repo: a commit is a change, an uncommitted edit is not", async () => {
  const src = await openLocalSource(repo.dir, 100);
  let changes = 0;
  const w = await src.watch(() => changes++, (e) => assert.fail(e));
  try {
    repo.write({ "apps/a/spec.yaml": "a: edited\n" });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(changes, 0);
    await repo.commit("second");
    await waitFor(() => changes === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(changes, 1, "one commit, one change");
  } finally {
    await w.close();
  }
});

test("watching a plain directory: a burst of writes is one change; .git/ and .amphi/ are ignored", async () => {
  const dir = mkdtempSync(join(tmpdir(), "amphi-watch-"));
  const seen: string[][] = [];
  const w = watchDir(dir, (paths) => seen.push(paths), { debounceMs: 150 });
  await w.ready;
  try {
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `f${i}.yaml`), String(i));
    await waitFor(() => seen.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0], ["f0.yaml", "f1.yaml", "f2.yaml", "f3.yaml", "f4.yaml"]);
  } finally {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(ignored(".git/objects/ab/cdef"), true);
  assert.equal(ignored(".git/index"), true);
  assert.equal(ignored(".git/refs/heads/main"), false);
  assert.equal(ignored(".git/refs/heads/main.lock"), true);
  assert.equal(ignored(".git/HEAD"), false);
  assert.equal(ignored(".amphi/runs/r-1.json"), true);
  assert.equal(ignored("apps/a/spec.yaml"), false);
});

test("a remote is mirrored once (bare) and fetched for every snapshot", async () => {
  const url = `file://${repo.dir}`;
  const src = new RemoteSource(url, state);
  const first = await src.snapshot("main");
  assert.equal(first.revision, await git(repo.dir, "rev-parse", "HEAD"));
  assert.equal(await first.source.read("environments/e.yaml"), "e: 1\n");
  first.close();
  const mirror = mirrorDir(state, url);
  assert.ok(existsSync(join(mirror, "HEAD")), "a bare mirror");
  repo.write({ "environments/e.yaml": "e: 2\n" });
  const sha = await repo.commit("next");
  const [a, b] = await Promise.all([src.snapshot("main"), src.snapshot("main")]);
  assert.equal(a.revision, sha);
  assert.equal(b.revision, sha);
  assert.equal(await a.source.read("environments/e.yaml"), "e: 2\n");
  a.close();
  b.close();
  await src.close();
});

test("credentials in a remote URL are never prompted for and never shown", async () => {
  const server: Server = createServer((_req, res) => res.writeHead(401, { "WWW-Authenticate": 'Basic realm="x"' }).end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const url = `http://amphi:s3cret-token@127.0.0.1:${port}/config.git`;
  try {
    const src = new RemoteSource(url, state, { ...process.env, GIT_ASKPASS: "/bin/false-askpass-should-not-run" });
    assert.equal(src.description, `http://127.0.0.1:${port}/config.git`);
    const t0 = Date.now();
    const err = await src.snapshot("main").then(() => null, (e: Error) => e);
    assert.ok(err, "the fetch fails");
    assert.ok(Date.now() - t0 < 10_000, "no prompt: it fails at once");
    assert.doesNotMatch(err.message, /s3cret/);
    assert.match(err.message, new RegExp(`^git source http://127\\.0\\.0\\.1:${port}/config\\.git: fetching main failed: `));
    const config = readFileSync(join(mirrorDir(state, url), "config"), "utf8");
    assert.doesNotMatch(config, /s3cret/);
    assert.equal(mirrorDir(state, url), mirrorDir(state, `http://127.0.0.1:${port}/config.git`), "the cache is keyed without credentials");
  } finally {
    server.close();
  }
});

test("a fetch from a remote that stops answering ends after timeoutMs of silence; an abort ends it at once", async () => {
  // accepts the connection and the request, never answers: git waits (no low-speed limit by default)
  const server: Server = createServer(() => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://amphi:s3cret-token@127.0.0.1:${(server.address() as { port: number }).port}/config.git`;
  try {
    const slow = new GitMirror(url, join(state, "silent"), { timeoutMs: 700 });
    const t0 = Date.now();
    const err = await slow.fetch(["main"]).then(() => null, (e: Error) => e);
    assert.match(String(err?.message), /^git source http:\/\/127\.0\.0\.1:\d+\/config\.git: fetching main failed: no output for 700 ms$/);
    assert.ok(Date.now() - t0 < 15_000, `ended after ${Date.now() - t0} ms`);
    const ac = new AbortController();
    const pending = new GitMirror(url, join(state, "silent"), { timeoutMs: 60_000 }).fetch(["main"], ac.signal).then(() => null, (e: Error) => e);
    setTimeout(() => ac.abort(), 300);
    const aborted = await pending;
    assert.match(String(aborted?.message), /fetching main failed: aborted$/);
    assert.doesNotMatch(`${err?.message} ${aborted?.message}`, /s3cret/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("redaction of URLs in messages", () => {
  assert.equal(redactUrl("https://x-access-token:abc@github.com/o/r.git"), "https://github.com/o/r.git");
  assert.equal(redactUrl("git@github.com:o/r.git"), "git@github.com:o/r.git");
  assert.equal(redactText("fatal: could not read from https://u:p@h/r (and ssh://t@h2/r)"), "fatal: could not read from https://h/r (and ssh://h2/r)");
});
