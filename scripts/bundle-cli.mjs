// Bundles the compiled CLI (dist/cli/main.js and everything it imports from dist/) into dist/cli-bundle/ with
// esbuild, so a command loads a handful of files instead of ~150 modules (Node's ESM loader resolves, compiles and
// links each one: ~45 ms of a 1,000-app plan, ~17 ms of `--version`). Run by scripts/build.mjs after tsc;
// bin/amphi.js runs the bundle when dist/ is current.
//
// - Lazy stays lazy: every dynamic import() of src/ (a command's module, ssh, git, age …) becomes its own chunk
//   (--splitting), loaded only when that code runs.
// - npm packages stay external (resolved from node_modules at run time as from dist/), but the few every command
//   loads (BUNDLED_PACKAGES: commander's 8 CommonJS files, js-yaml): Node's loader turning CommonJS into ES
//   modules was a quarter of `--version`'s own work (callgrind: 30 M of ~110 M instructions above `node -e 0`).
//   Bundled CommonJS requires Node's built-ins through a `require` each output file gets from createRequire.
// - Code that finds files relative to itself (import.meta.url: host scripts, schemas, the example repo,
//   bin/amphi.js, the UDP addon, createRequire) must resolve as from its own dist/ file, not from the bundle:
//   each input's `import.meta.url` is rewritten to `new URL("<its dist/ path relative to the bundle>",
//   import.meta.url).href`. Every chunk lands in the same folder, so one relative path serves wherever esbuild
//   puts the code.
import { mkdirSync, realpathSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/** The bundle's folder, inside dist/, and its entry. */
export const BUNDLE_DIR = "cli-bundle";
export const BUNDLE_ENTRY = "main.js";

/** The packages bundled (the rest stays external). */
export const BUNDLED_PACKAGES = ["commander", "@commander-js/extra-typings", "js-yaml"];
/** Each output file's own `require`, for the bundled CommonJS packages' require("node:…") (esbuild's shim uses it). */
export const REQUIRE_BANNER = 'import { createRequire as __amphiCreateRequire } from "node:module"; const require = __amphiCreateRequire(import.meta.url);';

/** The esbuild plugin keeping every bare import external but those of {@link BUNDLED_PACKAGES}. */
const externalPackagesPlugin = {
  name: "amphi-external-packages",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      const parts = args.path.split("/");
      const pkg = args.path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
      return BUNDLED_PACKAGES.includes(pkg) ? undefined : { path: args.path, external: true };
    });
  },
};

/** The esbuild plugin giving each file under `dist` its own `import.meta.url` in the bundle: expressed relative
 * to the bundle's folder `outdir`. The rewrite goes through esbuild's parser (`define`), so the text
 * "import.meta.url" inside a string (build-validators.js writes generated code) is left alone; the file's own
 * source map (dist/x.js → src/x.ts) is carried through, so the bundle's map still reaches the TypeScript. */
export function ownUrlPlugin(esbuild, dist, outdir) {
  const distPrefix = dist.endsWith(sep) ? dist : dist + sep;
  return {
    name: "amphi-own-import-meta-url",
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, async (args) => {
        if (!args.path.startsWith(distPrefix)) return undefined;
        const code = await readFile(args.path, "utf8");
        if (!code.includes("import.meta.url")) return undefined;
        const rel = relative(outdir, args.path).split(sep).join("/");
        const map = await readFile(`${args.path}.map`, "utf8").catch(() => null);
        const input = map === null ? code : `${code.replace(/\/\/# sourceMappingURL=\S*\s*$/, "")}\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(map).toString("base64")}\n`;
        const out = await esbuild.transform(input, {
          loader: "js",
          format: "esm",
          sourcefile: args.path,
          sourcemap: "inline",
          define: { "import.meta.url": OWN_URL },
          banner: `const ${OWN_URL} = new URL(${JSON.stringify(rel)}, import.meta.url).href;`,
        });
        return { contents: out.code, loader: "js" };
      });
    },
  };
}
const OWN_URL = "__amphiOwnUrl";

/** Bundles `<from>/cli/main.js` and what it imports from `from` (dist/, or any tree of compiled src/ such as the
 * tests' .test-build/tree/src/) into `outdir` (default `<from>/cli-bundle`) and returns the entry's path. `outdir`
 * must lie inside the checkout, so the external packages resolve from its node_modules as they do from `from`. */
export async function bundleCli(from, outdir = join(from, BUNDLE_DIR)) {
  const esbuild = await import("esbuild");
  // Real paths on both sides: esbuild reports inputs by real path, and Node gives a module the URL of its real
  // path; a symlinked checkout must neither skip the rewrite nor shift the relative paths.
  const dist = realpathSync(from);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const out = realpathSync(outdir);
  await esbuild.build({
    entryPoints: { main: join(dist, "cli", "main.js") },
    outdir: out,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    banner: { js: REQUIRE_BANNER },
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    plugins: [externalPackagesPlugin, ownUrlPlugin(esbuild, dist, out)],
  });
  return join(out, BUNDLE_ENTRY);
}
