// The mesh-dns program the capture task uploads: the prebuilt bundle of `npm run build` when it was made from
// the current sources, else built on first use and cached; a bundle of other sources is never used.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { buildMeshDnsBundle, loadMeshDnsProgram, meshDnsBundleName, writeMeshDnsBundle } from "../../src/hosts/mesh-dns-bundle.js";

const BANNER = "// mesh-dns, bundled by amphi from src/adapters/dns-server/host-main.ts\n";

describe("mesh-dns bundle", () => {
  const dirs: string[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), "amphi-mesh-bundle-"));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("is named by a hash of its sources", () => {
    assert.match(meshDnsBundleName(), /^mesh-dns-[0-9a-f]{16}\.mjs$/);
    assert.equal(meshDnsBundleName(), meshDnsBundleName());
  });

  it("takes the prebuilt bundle of the current sources from dist/ without building or caching", async () => {
    const [dist, cache] = [tmp(), tmp()];
    const prebuilt = Buffer.from("// prebuilt by npm run build\n");
    writeFileSync(join(dist, meshDnsBundleName()), prebuilt);
    const program = await loadMeshDnsProgram({ distDir: dist, cacheDir: cache });
    assert.deepEqual(program.code, prebuilt);
    assert.equal(program.sha256, createHash("sha256").update(prebuilt).digest("hex"));
    assert.deepEqual(readdirSync(cache), []);
  });

  it("ignores a bundle of other sources: builds from the sources, caches it, and uses the cache next time", async () => {
    const [dist, cache] = [tmp(), tmp()];
    writeFileSync(join(dist, "mesh-dns-0000000000000000.mjs"), "// stale\n");
    const built = await loadMeshDnsProgram({ distDir: dist, cacheDir: cache });
    assert.ok(built.code.toString("utf8").startsWith(BANNER), built.code.subarray(0, 120).toString("utf8"));
    const cached = join(cache, meshDnsBundleName());
    assert.deepEqual(readFileSync(cached), built.code);
    writeFileSync(cached, "// cached\n");
    assert.equal((await loadMeshDnsProgram({ distDir: dist, cacheDir: cache })).code.toString("utf8"), "// cached\n");
  });

  it("writes for `npm run build` the same bytes a task would build, a program node runs on its own", async () => {
    const dist = tmp();
    const file = await writeMeshDnsBundle(dist);
    assert.equal(file, join(dist, meshDnsBundleName()));
    assert.deepEqual(readFileSync(file), await buildMeshDnsBundle());
    const r = spawnSync(process.execPath, [file], { cwd: dist, encoding: "utf8" });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /mesh-dns: usage: node mesh-dns\.mjs <config\.json>/);
  });
});
