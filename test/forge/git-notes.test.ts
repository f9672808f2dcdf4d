// The git-notes reporter on real temp repositories: one JSON note per commit under refs/notes/amphi, two
// posts for one commit merge by context, concurrent posts keep every context, failures are results.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { CommitStatus } from "../../src/health/status.js";
import { GitNotesReporter, NoneReporter, reporterFor, type StatusNote } from "../../src/adapters/forge/index.js";
import { git, tempRepo, type TempRepo } from "../support/git-repo.js";

let repo: TempRepo;
let sha: string;
let clock = 0;
const now = () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5 + clock++));

before(async () => {
  repo = await tempRepo({ "environments/prod.yaml": "apiVersion: v1\n" }, "initial");
  sha = await git(repo.dir, "rev-parse", "HEAD");
});
after(() => repo.cleanup());

const status = (context: string, state: CommitStatus["state"], description: string): CommitStatus => ({ context, state, description });

test("two posts for one commit merge into one JSON note; a context posted again is replaced", async () => {
  const r = new GitNotesReporter(repo.dir, { now });
  const first = await r.post(sha, [status("amphi/prod/user", "pending", "0/1 healthy · eu1 progressing"), status("amphi/prod/web", "success", "1/1 healthy")]);
  assert.deepEqual(first.map((x) => [x.context, x.ok, x.error]), [["amphi/prod/user", true, null], ["amphi/prod/web", true, null]]);
  await r.post(sha, [{ ...status("amphi/prod/user", "success", "1/1 healthy"), targetUrl: "https://ci.example.com/drift.html" }, status("amphi/plan/prod", "success", "no changes")]);
  const note = JSON.parse(await git(repo.dir, "notes", "--ref", "amphi", "show", sha)) as StatusNote;
  assert.deepEqual(note, {
    apiVersion: "amphi.dev/v1",
    kind: "CommitStatuses",
    commit: sha,
    statuses: [
      { context: "amphi/plan/prod", state: "success", description: "no changes", updatedAt: "2026-01-02T03:04:06.000Z" },
      { context: "amphi/prod/user", state: "success", description: "1/1 healthy", targetUrl: "https://ci.example.com/drift.html", updatedAt: "2026-01-02T03:04:06.000Z" },
      { context: "amphi/prod/web", state: "success", description: "1/1 healthy", updatedAt: "2026-01-02T03:04:05.000Z" },
    ],
  });
  assert.equal(await git(repo.dir, "rev-parse", "--verify", "refs/notes/amphi^{commit}").then((s) => s.length), 40);
  assert.deepEqual(await r.read(sha), note);
});

test("posts that overlap in time keep every context (serialized read-merge-write)", async () => {
  const sha2 = await repo.commit("second");
  const r = new GitNotesReporter(repo.dir, { now });
  const posts = Array.from({ length: 6 }, (_, i) => r.post(sha2, [status(`amphi/prod/app${i}`, "success", `${i}`)]));
  assert.ok((await Promise.all(posts)).flat().every((x) => x.ok));
  const note = JSON.parse(await git(repo.dir, "notes", "--ref", "amphi", "show", sha2)) as StatusNote;
  assert.deepEqual(note.statuses.map((s) => s.context), [0, 1, 2, 3, 4, 5].map((i) => `amphi/prod/app${i}`));
});

test("a note that is not amphi's JSON is replaced, not merged", async () => {
  const sha3 = await repo.commit("third");
  await git(repo.dir, "-c", "user.name=x", "-c", "user.email=x@x", "notes", "--ref", "amphi", "add", "-m", "hand-written", sha3);
  const r = new GitNotesReporter(repo.dir, { now });
  await r.post(sha3, [status("amphi/prod/user", "success", "ok")]);
  const note = JSON.parse(await git(repo.dir, "notes", "--ref", "amphi", "show", sha3)) as StatusNote;
  assert.deepEqual(note.statuses.map((s) => s.context), ["amphi/prod/user"]);
});

test("failures are results, never throws: unknown commit, bad SHA, not a repository", async () => {
  const r = new GitNotesReporter(repo.dir, { now });
  const unknown = await r.post("0".repeat(40), [status("amphi/prod/user", "success", "ok")]);
  assert.equal(unknown[0]!.ok, false);
  assert.match(unknown[0]!.error!, /^gitnotes status amphi\/prod\/user on 000000000000: commit 000000000000 is not in /);
  const bad = await r.post("--help", [status("amphi/prod/user", "success", "ok")]);
  assert.match(bad[0]!.error!, /"--help" is not a full commit SHA/);
  const nowhere = await new GitNotesReporter("/nonexistent/amphi-repo", { now }).post(sha, [status("c", "success", "ok")]);
  assert.equal(nowhere[0]!.ok, false);
  // The reporter still works after failures.
  assert.equal((await r.post(sha, [status("amphi/prod/after", "success", "ok")]))[0]!.ok, true);
});

test("reporterFor: gitnotes is the default provider and needs a local repo; none posts nothing", async () => {
  const notes = reporterFor({ provider: "gitnotes", url: null, repository: null, tokenEnv: null, reportUrl: null }, { env: {}, repoDir: repo.dir, now });
  assert.ok(notes instanceof GitNotesReporter);
  assert.equal((await notes.post(sha, [status("amphi/staging/user", "success", "ok")]))[0]!.ok, true);
  const noRepo = reporterFor({ provider: "gitnotes", url: null, repository: null, tokenEnv: null, reportUrl: null }, { env: {}, repoDir: null });
  const [r] = await noRepo.post(sha, [status("amphi/prod/user", "success", "ok")]);
  assert.deepEqual([r!.ok, r!.attempts], [false, 0]);
  assert.match(r!.error!, /git notes need the config repo as a local Git repository/);
  const none = reporterFor({ provider: "none", url: null, repository: null, tokenEnv: null, reportUrl: null }, { env: {}, repoDir: null });
  assert.ok(none instanceof NoneReporter);
  assert.deepEqual(await none.post(sha, [status("c", "success", "ok")]), [{ context: "c", ok: true, httpStatus: null, attempts: 0, error: null }]);
  const noRepoName = reporterFor({ provider: "github", url: null, repository: null, tokenEnv: "T", reportUrl: null }, { env: { T: "x" }, repoDir: null });
  assert.match((await noRepoName.post(sha, [status("c", "success", "ok")]))[0]!.error!, /status\.repository is required for provider github/);
});

test("a post that changes nothing but the time writes no notes commit; a changed description does", async () => {
  const fresh = await tempRepo({ "README.md": "x\n" }, "initial");
  try {
    const head = await git(fresh.dir, "rev-parse", "HEAD");
    const commits = async () => Number(await git(fresh.dir, "rev-list", "--count", "refs/notes/amphi"));
    const statuses = [status("amphi/prod", "success", "2/2 in sync"), status("amphi/prod/web", "success", "1/1 healthy")];
    // A new reporter each time: like `reconcile --once` from cron, a new process with no memory of its posts.
    await new GitNotesReporter(fresh.dir, { now }).post(head, statuses);
    assert.equal(await commits(), 1);
    for (let i = 0; i < 3; i++) {
      const again = await new GitNotesReporter(fresh.dir, { now }).post(head, [...statuses].reverse());
      assert.deepEqual(again.map((x) => x.ok), [true, true]);
    }
    assert.equal(await commits(), 1, "nothing but updatedAt would change: no commit");
    const before = JSON.parse(await git(fresh.dir, "notes", "--ref", "amphi", "show", head)) as StatusNote;
    await new GitNotesReporter(fresh.dir, { now }).post(head, [status("amphi/prod", "success", "2/2 in sync"), status("amphi/prod/web", "failure", "0/1 healthy · eu1 degraded")]);
    assert.equal(await commits(), 2);
    const after = JSON.parse(await git(fresh.dir, "notes", "--ref", "amphi", "show", head)) as StatusNote;
    const at = (n: StatusNote, c: string) => n.statuses.find((x) => x.context === c)?.updatedAt;
    assert.equal(at(after, "amphi/prod"), at(before, "amphi/prod"), "an unchanged context keeps its time");
    assert.notEqual(at(after, "amphi/prod/web"), at(before, "amphi/prod/web"));
  } finally {
    fresh.cleanup();
  }
});
