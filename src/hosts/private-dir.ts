// This user's private temp directory, for files amphi keeps between runs and must trust when it reads them back
// (the sidecar's generated package, the Envoy test double's parsed protos).
import { lstatSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Per-process directories used when the per-user one cannot be trusted, by temp directory; removed at exit. */
const ownDirs = new Map<string, string>();

/** `<tmp>/amphi-<uid>`: created mode 0700 on first use and trusted only while lstat says it is a directory (not a
 * symlink) owned by this user with mode 0700 — the sticky bit of /tmp keeps others from renaming it away. When
 * someone else made that name (or it is not private), a directory of this process (mkdtemp, 0700) is used
 * instead and removed at exit, so nobody can keep amphi from working by planting it. */
export function privateDir(tmp: string): string {
  const uid = process.getuid?.();
  const dir = join(tmp, `amphi-${uid}`);
  if (uid !== undefined) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") return processDir(tmp);
    }
    const st = lstatSync(dir);
    if (st.isDirectory() && !st.isSymbolicLink() && st.uid === uid && (st.mode & 0o777) === 0o700) return dir;
  }
  return processDir(tmp);
}

function processDir(tmp: string): string {
  let dir = ownDirs.get(tmp);
  if (dir === undefined) {
    dir = mkdtempSync(join(tmp, "amphi-"));
    if (ownDirs.size === 0) process.once("exit", () => ownDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
    ownDirs.set(tmp, dir);
  }
  return dir;
}
