// A cycle whose config fails to load (ConfigError) posts `error` on the revision it read: on `amphi/<env>`
// and on each app of the environment as the last good config had it, through that config's status
// settings; with no good config yet nothing can be posted (logged). Reconciler with fake stages.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, type EnvironmentModel, type Model, type Problem } from "../../src/model/index.js";
import type { ConfigSource } from "../../src/ports/index.js";
import type { CommitStatus, StatusReporter } from "../../src/ports/status.js";
import { Reconciler, type CycleRequest, type Trigger } from "../../src/reconcile/cycle.js";
import type { Handlers } from "../../src/reconcile/execute.js";
import type { RepoSource, Snapshot } from "../../src/sources/index.js";
import { FileStateStore } from "../../src/adapters/state/file-store.js";
import { FileEnvLocks } from "../../src/adapters/state/file-lock.js";
import { modelFixture } from "../support/model-fixture.js";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const GOOD = "a".repeat(40);
const BAD = "b".repeat(40);
const BAD2 = "c".repeat(40);

function problem(file: string, line: number, column: number, message: string, severity: Problem["severity"] = "error"): Problem {
  return { file, line, column, pointer: "", message, severity };
}

/** A reconciler over fake stages: `configs` says what each revision loads to. */
function harness(configs: Record<string, Model | ConfigError>) {
  const dir = mkdtempSync(join(tmpdir(), "amphi-config-error-"));
  dirs.push(dir);
  let head = GOOD;
  const posts: { sha: string; env: EnvironmentModel; statuses: CommitStatus[] }[] = [];
  const logs: string[] = [];
  const store = new FileStateStore(dir);
  const locks = new FileEnvLocks(join(dir, "locks"));
  const source: RepoSource = {
    kind: "git", description: "fake", repoDir: null,
    snapshot: async () => {
      const rev = head;
      const src = { description: `fake@${rev}`, revision: async () => rev, list: async () => [], folders: async () => [], read: async () => null } as unknown as ConfigSource;
      const snap: Snapshot = { revision: rev, source: src, description: `fake@${rev.slice(0, 12)}`, close: () => {} };
      return snap;
    },
    watch: async () => ({ close: async () => {} }),
    close: async () => {},
  };
  const reconciler = new Reconciler({
    source,
    load: async (src) => {
      const c = configs[(await src.revision())!];
      if (!c) throw new Error("no such revision");
      if (c instanceof ConfigError) throw c;
      return c;
    },
    plan: (_model, env) => ({ env, revision: null, steps: [], unknown: [], summary: { create: 0, update: 0, delete: 0, unchanged: 0, unknown: 0 } }),
    backend: () => ({ store, locks }),
    open: (_model, env) => ({ readActual: async () => ({ env: env.name, observedAt: null, resources: [], unreachable: [] }), handlers: {} as Handlers, parallel: 1, close: async () => {} }),
    reporter: (env): StatusReporter => ({
      provider: "fake",
      post: async (sha, statuses) => {
        posts.push({ sha, env, statuses: [...statuses] });
        return statuses.map((s) => ({ context: s.context, ok: true, httpStatus: null, attempts: 1, error: null }));
      },
    }),
    clock: { now: () => new Date() },
    log: (line) => logs.push(line),
  });
  let n = 0;
  const cycle = (trigger: Trigger = "interval") => {
    const req: CycleRequest = { env: "prod", branch: null, trigger, runId: `r-20260101T00000${n++}Z-abcdef`, selfHeal: true, lockTimeoutMs: 0, signal: new AbortController().signal };
    return reconciler.run(req);
  };
  return { posts, logs, store, cycle, checkout: (rev: string) => void (head = rev) };
}

/** The good config, its prod environment marked so that the test can tell which settings were used. */
function good(): Model {
  const m = modelFixture();
  m.environments[0]!.status = { ...m.environments[0]!.status, provider: "gitnotes", reportUrl: null };
  return m;
}

const badYaml = new ConfigError([
  problem("environments/prod.yaml", 1, 1, "a warning first", "warning"),
  problem("apps/billing/spec.yaml", 7, 3, "bad indentation of a mapping entry"),
  problem("apps/user/spec.yaml", 2, 1, "unknown field"),
]);

test("no good config yet: a config error is logged, nothing posted", async () => {
  const h = harness({ [GOOD]: badYaml });
  const r = await h.cycle();
  assert.equal(r.outcome, "error");
  assert.equal(r.revision, GOOD, "the cycle names the revision it read");
  assert.equal(h.posts.length, 0);
  assert.ok(h.logs.some((l) => /config error on a{12} not posted.*no earlier config of prod/.test(l)), h.logs.join("\n"));
});

test("after a good config: error on amphi/<env> and on each app, on the bad revision, with file:line:col", async () => {
  const h = harness({ [GOOD]: good(), [BAD]: badYaml });
  assert.equal((await h.cycle()).outcome, "in-sync");
  const before = h.posts.length;
  h.checkout(BAD);
  const r = await h.cycle();
  assert.equal(r.outcome, "error");
  assert.equal(r.revision, BAD);
  const posted = h.posts.slice(before);
  assert.equal(posted.length, 1);
  const [post] = posted;
  assert.equal(post!.sha, BAD);
  assert.equal(post!.env.status.provider, "gitnotes", "the last good config's status settings");
  assert.deepEqual(post!.statuses.map((s) => s.context), ["amphi/prod", "amphi/prod/billing", "amphi/prod/catalog", "amphi/prod/user", "amphi/prod/web"]);
  for (const s of post!.statuses) {
    assert.equal(s.state, "error");
    assert.equal(s.description, "config error (+1 more): apps/billing/spec.yaml:7:3: bad indentation of a mapping entry");
  }

  // The next interval cycle on the same bad revision posts nothing new.
  await h.cycle();
  assert.equal(h.posts.length, before + 1);

  // An explicit trigger records the failed run with the revision it read.
  const api = await h.cycle("api");
  assert.equal(api.run?.state, "failed");
  assert.equal(api.run?.revision, BAD);
  assert.match(api.run!.message, /apps\/billing\/spec\.yaml:7:3/);
  assert.equal((await h.store.getRun(api.run!.id))?.revision, BAD);
});

test("a long problem is cut to 140 characters, keeping the location", async () => {
  const long = new ConfigError([problem("environments/prod.yaml", 12, 9, `unknown field "${"x".repeat(200)}"`)]);
  const h = harness({ [GOOD]: good(), [BAD2]: long });
  await h.cycle();
  h.checkout(BAD2);
  await h.cycle();
  const last = h.posts.at(-1)!;
  assert.equal(last.sha, BAD2);
  for (const s of last.statuses) {
    assert.ok(s.description.length <= 140, `${s.description.length}`);
    assert.match(s.description, /^config error: environments\/prod\.yaml:12:9: unknown field "x+…$/);
  }
});

test("a good revision after the error posts the apps' statuses again (recovery)", async () => {
  const h = harness({ [GOOD]: good(), [BAD]: badYaml, [BAD2]: good() });
  await h.cycle();
  h.checkout(BAD);
  await h.cycle();
  h.checkout(BAD2);
  const r = await h.cycle();
  assert.equal(r.outcome, "in-sync");
  const last = h.posts.at(-1)!;
  assert.equal(last.sha, BAD2);
  assert.ok(last.statuses.every((s) => s.state !== "error"), JSON.stringify(last.statuses));
  assert.ok(last.statuses.some((s) => s.context === "amphi/prod"), "the environment's own status is posted with the apps'");
});
