// The Envoy test double as one compiled file, so each start of it skips tsx (loader thread, transpiling its ~20
// modules): about 0.4 s of CPU per start instead of 1.0 s. test/run.mjs builds it once per run and hands its path to
// ./envoy (the launcher) in AMPHI_TEST_ENVOY_DOUBLE_JS; without that variable the launcher runs main.ts under tsx as
// before. Packages stay external (resolved from the repository's node_modules: the file lives in <repo>/.test-build/),
// and import.meta.url is main.ts's own, so paths it reads relative to itself stay right.
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Builds the double into `<repo>/.test-build/envoy-double-<hash of its code>.mjs` (kept when it exists: runs of the
 * same code share it) and returns that path. */
export async function buildEnvoyDouble() {
  const esbuild = await import("esbuild");
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const out = await esbuild.build({
    entryPoints: [main], bundle: true, platform: "node", format: "esm", target: "node20", packages: "external",
    write: false, outfile: "envoy-double.mjs", logLevel: "warning",
    define: { "import.meta.url": JSON.stringify(pathToFileURL(main).href) },
  });
  const text = `// amphi's Envoy TEST DOUBLE (not Envoy), compiled from test/support/envoy/main.ts by bundle.mjs\n${out.outputFiles[0].text}`;
  const dir = fileURLToPath(new URL("../../../.test-build/", import.meta.url));
  const path = join(dir, `envoy-double-${createHash("sha256").update(text).digest("hex").slice(0, 16)}.mjs`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755); // the double also runs as the proxy uid
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  }
  return path;
}
