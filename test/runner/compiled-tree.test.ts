// The compiled tree test/run.mjs runs the tests from (test/support/compiled-tree.mjs), made from a small checkout
// written here: what is compiled and what linked, that a second run compiles only what changed, that a removed source
// leaves nothing behind, that the tree's executable runs the compiled CLI, that stacks and the failures summary name
// the .ts files and lines, and that a syntax error names its file and line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
// @ts-expect-error: plain ESM module without types, run by node directly
import { compileTree, sourcePath, TREE } from "../support/compiled-tree.mjs";
import { innerRunEnv } from "../support/inner-run.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));

// Line numbers below are the .ts lines the stacks must name (types and an interface make them differ from the .js).
const LIB = `export interface Shape {
  name: string;
  sides: number;
}

export function describeShape(s: Shape): string {
  if (s.sides < 3) throw new Error(\`\${s.name}: too few sides\`);
  return \`\${s.name} has \${s.sides} sides\`;
}
`;
const FAILING_TEST = `import assert from "node:assert/strict";
import { it } from "node:test";
import { describeShape, type Shape } from "../src/lib.js";

type Pair = [number, number];
const pair: Pair = [1, 2];

it("describes a triangle", () => assert.equal(describeShape({ name: "t", sides: 3 } satisfies Shape), "t has 3 sides"));
it("adds wrong", () => assert.equal(pair[0] + pair[1], 4));
it("throws from the library", () => describeShape({ name: "line", sides: 2 }));
`;
const MAIN = `export async function main(args: string[]): Promise<number> {
  process.stdout.write(\`main: \${args.join(" ")}\\n\`);
  return 3;
}
`;

interface Built {
  tree: string;
  sources: number;
  compiled: number;
}

/** Writes a file of a test checkout, making its folders. */
function writeIn(dir: string, rel: string, text: string): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), text);
}

/** Marks a source of a test checkout as edited (a later mtime than the one it was compiled from). */
function touchIn(dir: string, rel: string, secondsAhead: number): void {
  const t = Date.now() / 1000 + secondsAhead;
  utimesSync(join(dir, rel), t, t);
}

describe("the compiled test tree", () => {
  let dir: string;
  let tree: string;
  const write = (rel: string, text: string): void => writeIn(dir, rel, text);
  const touch = (rel: string, secondsAhead: number): void => touchIn(dir, rel, secondsAhead);
  const compile = (): Promise<Built> => compileTree(dir);
  const isLinkTo = (rel: string, target: string): void => {
    const st = lstatSync(join(tree, rel));
    assert.ok(st.isSymbolicLink(), `${rel} is a link`);
    assert.equal(readlinkSync(join(tree, rel)), target);
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), `amphi-compiled-tree-${process.pid}-`));
    tree = join(dir, TREE);
    write("package.json", `${JSON.stringify({ type: "module" })}\n`);
    write("tsconfig.json", readFileSync(join(repo, "tsconfig.json"), "utf8"));
    symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
    write("src/lib.ts", LIB);
    write("src/cli/main.ts", MAIN);
    write("src/notes.md", "notes\n");
    write("src/fixtures/data.txt", "data\n");
    write("test/fail.test.ts", FAILING_TEST);
    write("test/failures-reporter.mjs", readFileSync(join(repo, "test/failures-reporter.mjs"), "utf8"));
    write("test/drive.mjs", readFileSync(join(repo, "test/drive.mjs"), "utf8"));
    write("test/support/compiled-tree.mjs", readFileSync(join(repo, "test/support/compiled-tree.mjs"), "utf8"));
    write("test/support/source-map-stacks.mjs", readFileSync(join(repo, "test/support/source-map-stacks.mjs"), "utf8"));
    write("bin/amphi.js", "// the checkout's executable\n");
    write("bin/helper", "#!/bin/sh\n");
    write("examples/config/a.yaml", "a: 1\n");
    mkdirSync(join(dir, ".git"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("compiles each .ts beside a link to it, links everything else, and makes the executable run the compiled CLI", async () => {
    const built = await compile();
    assert.equal(built.tree, tree);
    assert.deepEqual([built.sources, built.compiled], [3, 3]);
    for (const f of ["src/lib", "src/cli/main", "test/fail.test"]) {
      assert.ok(lstatSync(join(tree, `${f}.js`)).isFile(), `${f}.js is compiled`);
      isLinkTo(`${f}.ts`, join(dir, `${f}.ts`));
    }
    assert.doesNotMatch(readFileSync(join(tree, "src/lib.js"), "utf8"), /interface|: Shape/, "types are gone");
    isLinkTo("src/notes.md", join(dir, "src/notes.md"));
    isLinkTo("src/fixtures", join(dir, "src/fixtures")); // no TypeScript below: one link for the folder
    for (const top of ["package.json", "tsconfig.json", "node_modules", "examples"]) isLinkTo(top, join(dir, top));
    isLinkTo(".test-build", join(dir, ".test-build"));
    assert.ok(!existsSync(join(tree, ".git")), "git inside the tree finds the checkout's repository");
    isLinkTo("bin/helper", join(dir, "bin/helper"));
    const run = spawnSync(process.execPath, [join(tree, "bin/amphi.js"), "plan", "--env", "prod"], { encoding: "utf8" });
    assert.equal(run.status, 3, run.stderr);
    assert.equal(run.stdout, "main: plan --env prod\n");
  });

  it("compiles again only what changed, and nothing when nothing did", async () => {
    await compile();
    assert.equal((await compile()).compiled, 0);
    write("src/lib.ts", LIB.replace("too few sides", "fewer than 3 sides"));
    touch("src/lib.ts", 5);
    assert.deepEqual([(await compile()).compiled, (await compile()).compiled], [1, 0]);
    assert.match(readFileSync(join(tree, "src/lib.js"), "utf8"), /fewer than 3 sides/);
  });

  it("names the failed test by its .ts file, and stacks name the .ts lines", async () => {
    await compile();
    // as test/run.mjs runs a file: through the driver, with the preload that maps stacks to the .ts lines
    const r = spawnSync(process.execPath, ["--import", join(dir, "test/support/source-map-stacks.mjs"), join(tree, "test/drive.mjs"), "1", "0", join(tree, "test/fail.test.js")], {
      cwd: dir,
      encoding: "utf8",
      env: innerRunEnv(process.env),
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /\n2 failed tests:\n {2}test\/fail\.test\.ts {2}adds wrong\n/, r.stderr);
    assert.match(r.stderr, /\n {2}test\/fail\.test\.ts {2}throws from the library\n {6}Error: line: /);
    assert.match(r.stderr, /\n +\d+\.\d s {2}test\/fail\.test\.ts\n/, "the slowest files too");
    // the assertion at line 9 of the test, the throw at line 7 of the library (the .js lines differ)
    assert.match(r.stdout, new RegExp(`${escape(join(dir, "test/fail.test.ts"))}:9:`), r.stdout);
    assert.match(r.stdout, new RegExp(`${escape(join(dir, "src/lib.ts"))}:7:`), r.stdout);
  });

  it("removes what a removed source left, and turns a linked folder into a compiled one when it gains a .ts file", async () => {
    await compile();
    rmSync(join(dir, "src/notes.md"));
    rmSync(join(dir, "src/cli"), { recursive: true });
    write("src/fixtures/helper.ts", "export const helper: number = 1;\n");
    const built = await compile();
    assert.equal(built.compiled, 1);
    for (const gone of ["src/notes.md", "src/cli"]) assert.ok(!existsSync(join(tree, gone)) && !isLink(join(tree, gone)), `${gone} removed`);
    assert.ok(lstatSync(join(tree, "src/fixtures")).isDirectory());
    assert.ok(lstatSync(join(tree, "src/fixtures/helper.js")).isFile());
    isLinkTo("src/fixtures/data.txt", join(dir, "src/fixtures/data.txt"));
  });

  it("fails on a syntax error naming the file and line", async () => {
    write("src/broken.ts", "export const a = 1;\nexport const b = ;\n");
    await assert.rejects(compile(), /src\/broken\.ts:2:\d+: /);
    rmSync(join(dir, "src/broken.ts"));
    await compile();
  });

  it("maps a path in the tree back to the checkout's source", () => {
    assert.equal(sourcePath("/r", "/r/.test-build/tree/test/a/b.test.js"), "/r/test/a/b.test.ts");
    assert.equal(sourcePath("/r/", "/r/.test-build/tree/src/x.js"), "/r/src/x.ts");
    assert.equal(sourcePath("/r", "/r/.test-build/tree/examples/x.js"), "/r/examples/x.js");
    assert.equal(sourcePath("/r", "/tmp/quick-suites.test.mjs"), "/tmp/quick-suites.test.mjs");
  });
});

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("the compiled test tree's CLI bundle", () => {
  let dir: string;
  const write = (rel: string, text: string): void => writeIn(dir, rel, text);
  const touch = (rel: string, secondsAhead: number): void => touchIn(dir, rel, secondsAhead);
  const amphi = () => spawnSync(process.execPath, [join(dir, TREE, "bin/amphi.js"), "x"], { encoding: "utf8" });
  const bundleMain = () => join(dir, TREE, ".cli-bundle/main.js");
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `amphi-compiled-bundle-${process.pid}-`));
    write("package.json", `${JSON.stringify({ type: "module" })}\n`);
    write("tsconfig.json", readFileSync(join(repo, "tsconfig.json"), "utf8"));
    symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
    write("scripts/bundle-cli.mjs", readFileSync(join(repo, "scripts/bundle-cli.mjs"), "utf8"));
    write("src/lib.ts", LIB);
    write("src/cli/main.ts", `import { describeShape } from "../lib.js";\nexport async function main(): Promise<number> {\n  process.stdout.write(describeShape({ name: "sq", sides: 4 }) + "\\n");\n  return 0;\n}\n`);
    write("test/a.test.ts", "export const a: number = 1;\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("bundles the compiled CLI, runs it from the bundle, and bundles again only when src/ changed", async () => {
    await compileTree(dir);
    assert.ok(existsSync(bundleMain()), "the bundle is made");
    assert.match(readFileSync(bundleMain(), "utf8"), /has \$\{s\.sides\} sides/, "the library is inside the bundle");
    assert.deepEqual([amphi().status, amphi().stdout], [0, "sq has 4 sides\n"]);
    const made = lstatSync(bundleMain()).mtimeMs;
    write("test/a.test.ts", "export const a: number = 2;\n");
    touch("test/a.test.ts", 5);
    assert.equal((await compileTree(dir)).compiled, 1);
    assert.equal(lstatSync(bundleMain()).mtimeMs, made, "a test file's change leaves the bundle");
    write("src/lib.ts", LIB.replace("has ${s.sides} sides", "has ${s.sides} corners"));
    touch("src/lib.ts", 5);
    await compileTree(dir);
    assert.equal(amphi().stdout, "sq has 4 corners\n");
  });
});
