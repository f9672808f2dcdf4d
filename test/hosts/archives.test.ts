// Packages the host refuses to unpack: tar's own reason and the entry are in the message, and the package
// does not stay cached on the host; an archive that unpacks past the host group's maxUnpackedSize is
// refused before anything of it reaches the disk (GNU tar and busybox tar listings); a package's own .amphi/ is
// replaced by amphi's, never written through.
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { findExecutable } from "../../src/adapters/process/spawn.js";
import { deploy, TaskError, undeploy } from "../../src/hosts/tasks.js";
import type { TaskContext } from "../../src/hosts/task.js";
import type { HostSession } from "../../src/ports/hosts.js";
import { billingInstance, busyboxBin, EXAMPLE_PACKAGE, freePort, httpGet, localHost, sha256File, wrapSession, type LocalHost } from "../support/local-host.js";
import { spawnSync } from "../support/spawn.js";

const hasBusybox = findExecutable("busybox", process.env) !== null;
const MiB = 1024 * 1024;

/** The example package plus `extra` (run in the unpacked tree before packing, e.g. to add a big file);
 * `members` are the names given to tar (-P keeps `../` in them). */
function archive(dir: string, name: string, extra: string, members = "."): { path: string; sha256: string } {
  const src = join(dir, `${name}.src`);
  mkdirSync(join(src, "app"), { recursive: true });
  const x = spawnSync("tar", ["-xzf", EXAMPLE_PACKAGE, "-C", join(src, "app")], { encoding: "utf8" });
  assert.equal(x.status, 0, x.stderr);
  const path = join(dir, `${name}.tar.gz`);
  const r = spawnSync("sh", ["-c", `cd "$1/app" && ${extra} && tar -czPf "$2" ${members}`, "sh", src, path], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return { path, sha256: sha256File(path) };
}

/** A session whose host ref carries maxUnpackedSize. */
function limited(session: HostSession, maxUnpackedSize: number): HostSession {
  return { host: { ...session.host, maxUnpackedSize }, exec: (a, o) => session.exec(a, o), putFile: (l, r, o) => session.putFile(l, r, o), close: () => session.close() };
}

async function failure(p: Promise<unknown>): Promise<TaskError> {
  let caught: unknown;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof TaskError, `expected a TaskError, got ${String(caught)}`);
  return caught;
}

/** Nothing of the package is left: no cached package, no release, no temp dir. */
function assertGone(baseDir: string, sha: string): void {
  assert.equal(existsSync(join(baseDir, "packages", sha)), false, "the refused package is not cached");
  const releases = join(baseDir, "apps/billing/releases");
  const left = existsSync(releases) ? readdirSync(releases).filter((n) => !n.startsWith("2.3.0-5d3785d5")) : [];
  assert.deepEqual(left, [], "no release and no temp dir of the refused package");
}

function suite(name: string, makeCtx: (h: LocalHost) => () => TaskContext, skip: string | false) {
  describe(name, { skip }, () => {
    let h: LocalHost;
    let ctx: () => TaskContext;
    let port: number;
    before(async () => {
      h = await localHost();
      ctx = makeCtx(h);
      port = await freePort();
      assert.equal((await deploy(ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE })).result, "changed");
    });
    after(async () => {
      await undeploy(ctx(), "billing").catch(() => {});
      await h.cleanup();
    });

    it("a package tar refuses: tar's reason and the entry in the message, nothing cached or unpacked", async () => {
      const bad = { path: join(h.dir, "bad.tar.gz") };
      writeFileSync(bad.path, "this is not a gzip file\n");
      const sha = sha256File(bad.path);
      const inst = billingInstance(port, { version: "2.3.1", sha256: sha, package: { path: "packages/billing-2.3.1.tar.gz" } });
      const e = await failure(deploy(ctx(), inst, { packageFile: bad.path }));
      assert.match(e.message, new RegExp(`^localhost: billing@2\\.3\\.1: cannot unpack package packages/billing-2\\.3\\.1\\.tar\\.gz \\(sha256 ${sha.slice(0, 12)}…\\): .*(not in gzip format|invalid magic|corrupted)`));
      assert.match(e.message, /; removed it from the host$/);
      assert.equal(e.rolledBack, false);
      assertGone(h.baseDir, sha);
      assert.equal((await httpGet(port, "/health")).status, 200, "the running release is untouched");
    });

    it("an archive that unpacks past maxUnpackedSize is refused before it is unpacked", async () => {
      const big = archive(h.dir, "big", "truncate -s 12M blob 2>/dev/null || head -c 12582912 /dev/zero > blob");
      const inst = billingInstance(port, { version: "2.3.2", sha256: big.sha256, package: { path: "packages/billing-2.3.2.tar.gz" } });
      const c = ctx();
      const e = await failure(deploy({ ...c, session: limited(c.session, 10 * MiB) }, inst, { packageFile: big.path }));
      assert.match(
        e.message,
        new RegExp(`^localhost: billing@2\\.3\\.2: package packages/billing-2\\.3\\.2\\.tar\\.gz \\(sha256 ${big.sha256.slice(0, 12)}…\\) unpacks to 12\\.0 MiB \\(1258\\d{4} bytes\\), more than maxUnpackedSize 10\\.0 MiB of host group local; refused and removed from the host$`),
      );
      assertGone(h.baseDir, big.sha256);
      assert.equal((await httpGet(port, "/health")).status, 200);
      // under the limit it deploys
      const ok = await deploy({ ...c, session: limited(c.session, 20 * MiB) }, inst, { packageFile: big.path });
      assert.equal(ok.result, "changed");
    });

    it("a package that brings its own .amphi/ (links to files elsewhere) does not get amphi's files written through it", async () => {
      const outside = join(h.dir, "outside-file");
      writeFileSync(outside, "untouched\n");
      const sneaky = archive(h.dir, "sneaky", `mkdir .amphi && for f in env start user health env.tmp; do ln -s ${JSON.stringify(outside)} .amphi/$f; done`);
      const inst = billingInstance(port, { version: "2.3.3", sha256: sneaky.sha256, package: { path: "packages/billing-2.3.3.tar.gz" } });
      assert.equal((await deploy(ctx(), inst, { packageFile: sneaky.path })).result, "changed");
      assert.equal(readFileSync(outside, "utf8"), "untouched\n");
      const meta = join(h.baseDir, "apps/billing/releases", `2.3.3-${sneaky.sha256.slice(0, 8)}`, ".amphi");
      for (const f of ["env", "start", "user", "health"]) assert.ok(lstatSync(join(meta, f)).isFile(), `${f} is amphi's own file`);
      assert.deepEqual(readdirSync(meta).sort(), ["env", "health", "start", "user"]);
      assert.equal((await httpGet(port, "/health")).status, 200);
    });
  });
}

suite("refused archives (GNU tar)", (h) => () => h.ctx(), false);
suite(
  "refused archives (busybox tar)",
  (h) => {
    const session = wrapSession(h.session, ["/usr/bin/env", `PATH=${busyboxBin(h.dir)}`]);
    return () => ({ ...h.ctx(), session });
  },
  hasBusybox ? false : "busybox not installed",
);

describe("an archive with an entry tar will not write", () => {
  let h: LocalHost;
  before(async () => {
    h = await localHost();
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
  });

  it("names the entry and tar's reason (GNU tar: a member name with '..')", async () => {
    const port = await freePort();
    const evil = archive(h.dir, "evil", "echo evil > ../evil", "../evil server.mjs VERSION");
    const inst = billingInstance(port, { sha256: evil.sha256 });
    const e = await failure(deploy(h.ctx(), inst, { packageFile: evil.path }));
    assert.match(e.message, /: cannot unpack package packages\/billing-2\.3\.0\.tar\.gz \(sha256 \w{12}…\): tar: \.\.\/evil: Member name contains '\.\.'; removed it from the host$/);
    assert.equal(existsSync(join(h.baseDir, "packages", evil.sha256)), false);
    assert.equal(existsSync(join(h.baseDir, "apps/billing/current")), false);
    assert.equal(existsSync(join(h.baseDir, "apps/evil")), false);
  });
});
