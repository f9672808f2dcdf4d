// The CLI bundle (scripts/bundle-cli.mjs, what bin/amphi.js runs from a current dist/) and the executable's
// freshness rule. The bundle is made here from the compiled sources this test runs on (the test tree's src/ is what
// dist/ is to a build: .js files beside each other), into a folder of its own under .test-build/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { EXAMPLE_AGE_KEY } from "../support/cli.js";

type Run = (args: string[], io: { out(t: string): void; err(t: string): void; cwd: string; env: NodeJS.ProcessEnv }) => Promise<number>;

const tree = fileURLToPath(new URL("../../", import.meta.url));
/** The checkout (the test tree links its files; its bin/amphi.js is a generated one). */
const checkoutRoot = dirname(realpathSync(join(tree, "package.json")));
const from = realpathSync(join(tree, "src"));
// The build scripts (plain JavaScript, no declarations).
const { bundleCli, REQUIRE_BANNER } = (await import(pathToFileURL(join(checkoutRoot, "scripts/bundle-cli.mjs")).href)) as {
  bundleCli: (from: string, outdir?: string) => Promise<string>;
  REQUIRE_BANNER: string;
};
const { sourceStamp } = (await import(pathToFileURL(join(checkoutRoot, "scripts/source-stamp.mjs")).href)) as { sourceStamp: (dir: string) => string };
let outdir = "";
let run: Run;

before(async () => {
  assert.ok(existsSync(join(from, "cli", "main.js")), `${from}/cli/main.js: this test runs on compiled sources (node test/run.mjs)`);
  mkdirSync(join(tree, ".test-build"), { recursive: true });
  outdir = mkdtempSync(join(tree, ".test-build", `cli-bundle-${process.pid}-`));
  const entry = await bundleCli(from, outdir);
  ({ run } = (await import(pathToFileURL(entry).href)) as { run: Run });
});

after(() => {
  if (outdir && !process.env.KEEP_BUNDLE) rmSync(outdir, { recursive: true, force: true });
});

async function amphi(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const env = { ...process.env, AMPHI_AGE_KEY_FILE: EXAMPLE_AGE_KEY };
  const code = await run(args, { out: (t) => void (stdout += t), err: (t) => void (stderr += t), cwd, env });
  return { code, stdout, stderr };
}

const bundleFiles = (): string[] => readdirSync(outdir).filter((n) => n.endsWith(".js"));

test("the bundle keeps lazily imported commands in chunks of their own", () => {
  const files = bundleFiles();
  assert.ok(files.length > 10, `only ${files.length} files: dynamic import() was inlined`);
  const main = readFileSync(join(outdir, "main.js"), "utf8");
  // main.js imports the commands' chunks only through import(): none of plan's or apply's code is in it.
  assert.match(main, /import\("\.\/plan-[A-Z0-9]+\.js"\)/);
  assert.match(main, /import\("\.\/apply-[A-Z0-9]+\.js"\)/);
  assert.doesNotMatch(main, /function planCommand\b|function planPr\b/);
});

test("every import.meta.url in the bundle is its source file's own: a relative URL naming that compiled file", () => {
  // The files of the compiled tree whose code finds files relative to itself.
  const own = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".js") && readFileSync(p, "utf8").includes("import.meta.url")) own.add(relative(from, p).split(sep).join("/"));
    }
  };
  walk(from);
  const named = new Set<string>();
  for (const name of bundleFiles()) {
    let code = readFileSync(join(outdir, name), "utf8");
    for (const m of code.matchAll(/new URL\("([^"]+)", import\.meta\.url\)/g)) {
      const target = fileURLToPath(new URL(m[1]!, pathToFileURL(join(realpathSync(outdir), name))));
      const rel = relative(from, target).split(sep).join("/");
      assert.ok(own.has(rel), `${name}: ${m[1]} names ${target}, not a compiled file that uses import.meta.url`);
      named.add(rel);
    }
    code = code.replace(/new URL\("([^"]+)", import\.meta\.url\)/g, "");
    // Each file's own require, for the bundled CommonJS packages (the file's URL is right for node:… built-ins).
    assert.ok(code.startsWith(REQUIRE_BANNER), `${name} does not start with the require banner`);
    code = code.slice(REQUIRE_BANNER.length);
    // What is left is text, not code, and must stay as written: build-validators writes `createRequire(import.meta.url)`
    // into the file it generates, mesh-dns-bundle the same into the banner of the program hosts run.
    code = code.replaceAll('"const require = createRequire(import.meta.url);"', "").replaceAll("const require = __amphiRequire(import.meta.url);` }", "");
    assert.doesNotMatch(code, /import\.meta\.url/, `${name}: an import.meta.url the rewrite missed (it would be the bundle's URL)`);
  }
  for (const file of ["hosts/scripts.js", "hosts/mesh-dns-bundle.js", "config/schema-files.js", "config/validators.generated.js", "cli/common.js", "cli/apply.js", "adapters/dns-server/udp-batch.js", "adapters/xds/proto-files.js"]) {
    assert.ok(named.has(file), `the bundle has no own URL of ${file} (named: ${[...named].sort().join(", ")})`);
  }
});

test("commands run from the bundle find the schemas, the example repo and the host scripts", async () => {
  const version = await amphi(["--version"], outdir);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  // validate reads schemas/*.json (schema-files.ts: from ../../schemas/ of its own file).
  const valid = await amphi(["validate", "--repo", EXAMPLE_REPO], outdir);
  assert.equal(valid.code, 0, valid.stderr);
  assert.match(valid.stdout, /4 apps, 3 environments \(local, prod, staging\) — valid/);
  // demo's default repo is the example (common.ts's EXAMPLE_REPO).
  const help = await amphi(["demo", "--help"], outdir);
  assert.equal(help.code, 0, help.stderr);
  assert.ok(help.stdout.replace(/\s+/g, " ").includes(`(default: "${EXAMPLE_REPO}")`), help.stdout);
  // A plan on the local host group reads the host's state with the host scripts (hosts/scripts.ts).
  const dir = mkdtempSync(join(tmpdir(), `amphi-cli-bundle-${process.pid}-`));
  try {
    cpSync(EXAMPLE_REPO, dir, { recursive: true });
    const plan = await amphi(["plan", "--env", "local", "--repo", dir], dir);
    assert.equal(plan.code, 2, plan.stderr + plan.stdout);
    assert.match(plan.stdout, /billing/);
    assert.match(plan.stdout, /Plan for local: 2 to create, 0 to update, 0 to delete, 0 unchanged, 0 unknown\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// bin/amphi.js in a checkout of its own: src/ with a main.ts, dist/ with a main.js and a bundle, each saying which
// it is. The rule: the bundle when dist/.source-stamp describes src/, dist/cli/main.js when there is no bundle,
// the sources (tsx) after any change to src/ and under AMPHI_TSX=1.
test("bin/amphi.js runs the bundle only while dist/ matches src/", () => {
  const checkout = mkdtempSync(join(tree, ".test-build", `fresh-${process.pid}-`));
  try {
    for (const f of ["bin/amphi.js", "scripts/source-stamp.mjs", "package.json"]) cpSync(join(checkoutRoot, f), join(checkout, f));
    symlinkSync(realpathSync(join(tree, "node_modules")), join(checkout, "node_modules"));
    const say = (what: string): string => `export async function main() { console.log(${JSON.stringify(what)}); return 0; }\n`;
    mkdirSync(join(checkout, "src/cli"), { recursive: true });
    mkdirSync(join(checkout, "src/hosts/scripts"), { recursive: true });
    writeFileSync(join(checkout, "src/cli/main.ts"), say("sources"));
    writeFileSync(join(checkout, "src/hosts/scripts/probe.sh"), "echo probe\n");
    mkdirSync(join(checkout, "dist/cli-bundle"), { recursive: true });
    mkdirSync(join(checkout, "dist/cli"), { recursive: true });
    writeFileSync(join(checkout, "dist/cli/main.js"), say("dist"));
    writeFileSync(join(checkout, "dist/cli-bundle/main.js"), say("bundle"));
    const stamp = (): void => writeFileSync(join(checkout, "dist/.source-stamp"), sourceStamp(join(checkout, "src")));
    const runs = (env: NodeJS.ProcessEnv = {}): string => {
      const r = spawnSync(process.execPath, [join(checkout, "bin/amphi.js")], { encoding: "utf8", env: { ...process.env, AMPHI_TSX: "", ...env } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    stamp();
    assert.equal(runs(), "bundle");
    assert.equal(runs({ AMPHI_TSX: "1" }), "sources");
    rmSync(join(checkout, "dist/cli-bundle/main.js"));
    assert.equal(runs(), "dist");
    writeFileSync(join(checkout, "dist/cli-bundle/main.js"), say("bundle"));
    // An edit of the same size, its mtime moved back by a second (as a restore or checkout can leave it).
    const script = join(checkout, "src/hosts/scripts/probe.sh");
    writeFileSync(script, "echo PROBE\n");
    utimesSync(script, new Date(Date.now() - 1000), new Date(Date.now() - 1000));
    assert.equal(runs(), "sources");
    stamp();
    assert.equal(runs(), "bundle");
    // A new file, then a removed one.
    writeFileSync(join(checkout, "src/cli/extra.ts"), "export {};\n");
    assert.equal(runs(), "sources");
    stamp();
    rmSync(join(checkout, "src/cli/extra.ts"));
    assert.equal(runs(), "sources");
    stamp();
    // A new empty folder too (a moved file's folder is the same case).
    mkdirSync(join(checkout, "src/new"));
    assert.equal(runs(), "sources");
    stamp();
    assert.equal(runs(), "bundle");
    // No stamp: never dist/.
    rmSync(join(checkout, "dist/.source-stamp"));
    assert.equal(runs(), "sources");
  } finally {
    rmSync(checkout, { recursive: true, force: true });
  }
});
