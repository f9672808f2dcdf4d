// Writes rendered files under an output directory, removing files amphi wrote there before that
// are no longer rendered (a removed cluster must not leave a stale manifest for Argo CD or Flux to sync).
import { mkdir, readdir, rm, writeFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";

/** A file to write, path relative to the output directory. */
export interface OutFile {
  path: string;
  content: string;
}

/** Writes `files` under `dir` (each atomically: temp file + rename) and removes stale `*.yaml` files in
 * the sub-folders amphi owns (`owned`, e.g. `clusters`, `hostgroups`). Returns the paths written and removed. */
export async function writeOutDir(dir: string, files: OutFile[], owned: string[]): Promise<{ written: string[]; removed: string[] }> {
  const wanted = new Set(files.map((f) => f.path));
  const removed: string[] = [];
  for (const sub of owned) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const rel = `${sub}/${name}`;
      if (name.endsWith(".yaml") && !wanted.has(rel)) {
        await rm(join(dir, rel));
        removed.push(rel);
      }
    }
  }
  for (const f of files) {
    const target = join(dir, f.path);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    await writeFile(tmp, f.content);
    await rename(tmp, target);
  }
  return { written: files.map((f) => f.path), removed };
}
