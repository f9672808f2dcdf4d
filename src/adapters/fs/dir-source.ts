// ConfigSource over a plain directory: the working tree as it is on disk.
import { readFile, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ConfigSource } from "../../ports/index.js";

/** A config repo read from a directory. Paths are repo-relative and `/`-separated. */
export class DirSource implements ConfigSource {
  readonly description: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = this.root;
  }

  /** Always null: a directory has no commit. */
  async revision(): Promise<string | null> {
    return null;
  }

  /** Every file under `prefix`, recursively, sorted; `.git` directories are skipped. */
  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    await this.walk(prefix.replace(/\/+$/, ""), out);
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The file's text (UTF-8), or null when it does not exist or is not a file. */
  async read(path: string): Promise<string | null> {
    try {
      return await readFile(this.abs(path), "utf8");
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  /** Whether `path` is a file (symlinks followed). */
  async exists(path: string): Promise<boolean> {
    try {
      return (await stat(this.abs(path))).isFile();
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  private async walk(rel: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(this.abs(rel), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    await Promise.all(
      entries.map(async (entry) => {
        const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
        if (entry.name === ".git") return;
        const kind = entry.isSymbolicLink() ? await stat(this.abs(child)).catch(() => null) : entry;
        if (kind?.isDirectory()) await this.walk(child, out);
        else if (kind?.isFile()) out.push(child);
      }),
    );
  }

  /** Why: paths come from config files; one that climbs out of the repo must not be read. */
  private abs(path: string): string {
    if (path.startsWith("/") || path.includes("\\") || path.split("/").includes("..")) {
      throw new Error(`path "${path}" is outside the config repo ${this.root}`);
    }
    return join(this.root, path);
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}
