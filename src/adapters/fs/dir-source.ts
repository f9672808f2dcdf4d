// ConfigSource over a plain directory: the working tree as it is on disk.
// Why synchronous fs calls behind the async interface: a config repo is many small local files, and
// 1000 spec files read in ~6 ms with readFileSync against ~30–70 ms through fs/promises; the event loop
// is blocked for no longer than that.
// Symlinks: followed only while they stay inside the repo and out of `.git` (what is read is what was
// reviewed; a link elsewhere could put /etc/passwd into error messages or upload any file to hosts). A link
// that leaves, or a loop, is a RepoFileError naming the link and its target, never reading the target.
// A file the listing reached through real directories only (no symlink on its path), or one directly inside a
// folder `folders` found so, is read without resolving its path again (a realpath is a readlink per path
// component: 6 of the 10 system calls of reading a spec.yaml), opened with O_NOFOLLOW so that a file that is (or
// was replaced by) a symlink is checked as any other (a directory on its path replaced by a symlink between
// listing and reading is not seen: a race with whoever edits the tree meanwhile).
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, realpathSync, statSync, type Dirent } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { RepoFileError, compareStrings } from "../../model/index.js";
import type { ConfigSource } from "../../ports/index.js";

/** A config repo read from a directory. Paths are repo-relative and `/`-separated. */
export class DirSource implements ConfigSource {
  readonly description: string;
  private readonly root: string;
  private realRoot: string | null = null;
  /** Files listed under the real repo directory with no symlink on their path (repo paths). */
  private readonly plain = new Set<string>();
  /** Folders `folders` found under the real repo directory with no symlink on their path (repo paths). */
  private readonly plainDirs = new Set<string>();

  constructor(root: string) {
    this.root = resolve(root);
    this.description = this.root;
  }

  /** Always null: a directory has no commit. */
  async revision(): Promise<string | null> {
    return null;
  }

  /** Every file under `prefix`, recursively, sorted; `.git` directories are skipped. A file symlink that leaves
   * the repo is listed (reading it fails with a RepoFileError); a directory symlink that leaves the repo, or
   * loops back to a directory containing it, throws a RepoFileError (what is below it cannot be listed). */
  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const rel = prefix.replace(/\/+$/, "");
    const real = this.realDir(rel);
    if (real !== null) this.walk(rel, real, out, new Set([real]));
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The folders directly under `prefix`, sorted; `.git` is skipped. A symlink to a folder inside the repo is one;
   * one that leaves the repo or loops throws a RepoFileError naming it (skipping it would silently drop an app,
   * and plan its deletion); a dangling one is as absent. What is inside the folders is not listed. */
  async folders(prefix: string): Promise<string[]> {
    const rel = prefix.replace(/\/+$/, "");
    const real = this.realDir(rel);
    if (real === null) return [];
    const plainDir = real === (rel === "" ? this.realRootDir() : join(this.realRootDir(), rel));
    let entries: Dirent[];
    try {
      entries = readdirSync(this.abs(rel), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
    const out: string[] = [];
    for (const entry of entries) {
      if (entry.name === ".git") continue;
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        out.push(entry.name);
        if (plainDir) this.plainDirs.add(child);
      } else if (entry.isSymbolicLink()) {
        const target = this.resolveLink(child, true);
        if (target === "refused") {
          if (isDirectory(this.abs(child))) this.resolveLink(child, false);
        } else if (target !== null && statSync(target).isDirectory()) out.push(entry.name);
      }
    }
    return out.sort(compareStrings);
  }

  /** The file's text (UTF-8), or null when it does not exist or is not a file. */
  async read(path: string): Promise<string | null> {
    return (await this.readBytes(path))?.toString("utf8") ?? null;
  }

  /** The file's bytes, or null when it does not exist or is not a file. */
  async readBytes(path: string): Promise<Buffer | null> {
    const slash = path.lastIndexOf("/");
    const plain = this.plain.has(path) || (slash > 0 && this.plainDirs.has(path.slice(0, slash))) ? this.readPlain(path) : null;
    if (plain === NOT_A_FILE) return null;
    if (plain !== null) return plain;
    try {
      return readFileSync(this.checked(path));
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  /** Whether `path` is a file (symlinks followed while they stay in the repo; one that leaves throws). */
  async exists(path: string): Promise<boolean> {
    try {
      return statSync(this.checked(path)).isFile();
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  /** A file on a plain path, read unless its last component is a symlink (then null: check it); NOT_A_FILE when
   * it is something else (a directory, a FIFO: opened without blocking, never read). Open, fstat, read, close. */
  private readPlain(path: string): Buffer | null | typeof NOT_A_FILE {
    let fd: number;
    try {
      fd = openSync(this.abs(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return null; // absent, a symlink, or unreadable: the checked read below decides and says why
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return NOT_A_FILE;
      const buf = Buffer.allocUnsafe(st.size);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, null);
        if (n === 0) break;
        got += n;
      }
      // The size fstat gave (a file being rewritten meanwhile is read as it was then, or shorter).
      return got < buf.length ? buf.subarray(0, got) : buf;
    } catch {
      return null; // unreadable now: the checked read says why
    } finally {
      closeSync(fd);
    }
  }

  /** Lists `rel` (whose real path is `real`) into `out`; `ancestors` are the real paths being listed. */
  private walk(rel: string, real: string, out: string[], ancestors: Set<string>): void {
    const plainDir = real === (rel === "" ? this.realRootDir() : join(this.realRootDir(), rel));
    let entries: Dirent[];
    try {
      entries = readdirSync(this.abs(rel), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    for (const entry of entries) {
      if (entry.name === ".git") continue;
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (!entry.isSymbolicLink()) {
        if (entry.isDirectory()) this.walkInto(child, join(real, entry.name), out, ancestors);
        else if (entry.isFile()) {
          out.push(child);
          if (plainDir) this.plain.add(child);
        }
        continue;
      }
      const target = this.resolveLink(child, true);
      if (target === null) continue; // dangling: as if absent
      // A refused file is listed (reading it says why not); a refused directory cannot be listed, and skipping
      // it would silently drop an app (and plan its deletion): the listing fails naming it.
      if (target === "refused") {
        if (isDirectory(this.abs(child))) this.resolveLink(child, false);
        out.push(child);
      } else if (statSync(target).isDirectory()) this.walkInto(child, target, out, ancestors);
      else out.push(child);
    }
  }

  private walkInto(child: string, real: string, out: string[], ancestors: Set<string>): void {
    if (ancestors.has(real)) {
      throw new RepoFileError(child, `${child} is a symlink loop (it points to ${readlinkSync(this.abs(child))}, which contains it)`);
    }
    ancestors.add(real);
    this.walk(child, real, out, ancestors);
    ancestors.delete(real);
  }

  /** The absolute path of a repo path whose every symlink stays inside the repo (and out of `.git`);
   * throws a RepoFileError naming the first link that does not. */
  private checked(path: string): string {
    const abs = this.abs(path);
    let real: string | null = null;
    try {
      real = realpathSync.native(abs);
    } catch (e) {
      if (isMissing(e)) return abs;
      if ((e as { code?: string }).code !== "ELOOP") throw e;
    }
    if (real !== null && this.allowed(real)) return abs;
    // Name the link that leads away (or loops): the first one on the path.
    const parts = path.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      if (lstatSync(this.abs(prefix)).isSymbolicLink()) this.resolveLink(prefix, false);
    }
    const root = this.realRootDir();
    const where = real !== null && (real === root || real.startsWith(root + sep)) ? "inside .git" : "outside the config repo";
    throw new RepoFileError(path, `${path} resolves to ${real ?? "a symlink loop"}, ${where}`);
  }

  /** Whether a real path is inside the repo and not in `.git`. */
  private allowed(real: string): boolean {
    const root = this.realRootDir();
    if (real !== root && !real.startsWith(root + sep)) return false;
    return !relative(root, real).split(sep).includes(".git");
  }

  /** Where the symlink at `rel` leads: its real path, null when it dangles. A link out of the repo or into
   * `.git`, or a loop, throws a RepoFileError — or, with `lenient` (listing), returns "refused": the file is
   * listed, and reading it throws (a located problem of that file rather than of the whole listing). */
  private resolveLink(rel: string, lenient: boolean): string | null | "refused" {
    const target = readlinkSync(this.abs(rel));
    let real: string;
    try {
      real = realpathSync.native(this.abs(rel));
    } catch (e) {
      if (isMissing(e)) return null;
      if ((e as { code?: string }).code !== "ELOOP") throw e;
      if (lenient) return "refused";
      throw new RepoFileError(rel, `${rel} is a symlink loop (it points to ${target})`);
    }
    if (this.allowed(real)) return real;
    if (lenient) return "refused";
    const root = this.realRootDir();
    const inGit = real === root || real.startsWith(root + sep);
    throw new RepoFileError(rel, `${rel} is a symlink to ${target}, ${inGit ? "inside .git" : "outside the config repo"}`);
  }

  private realRootDir(): string {
    this.realRoot ??= realpathOr(this.root);
    return this.realRoot;
  }

  /** The real path of a directory to start listing at (for loop detection), none when it does not exist. */
  private realDir(rel: string): string | null {
    try {
      return realpathSync.native(this.abs(rel));
    } catch {
      return null;
    }
  }

  /** Why: paths come from config files; one that climbs out of the repo must not be read. */
  private abs(path: string): string {
    if (path.startsWith("/") || path.includes("\\") || path.split("/").includes("..")) {
      throw new Error(`path "${path}" is outside the config repo ${this.root}`);
    }
    return join(this.root, path);
  }
}

/** What readPlain answers for a path that is there but is not a regular file. */
const NOT_A_FILE = Symbol("not a file");

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function realpathOr(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}
