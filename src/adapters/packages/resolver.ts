// Gets VM packages onto this machine before they go to hosts: from the config repo (a path, read through
// the ConfigSource, so a Git revision works without a checkout) or from a URL, into a cache by sha256.
// The sha256 is verified here, before any host sees the bytes.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RepoFileError, type HostInstance } from "../../model/index.js";
import type { ConfigSource } from "../../ports/index.js";

/** A package that is missing or whose bytes do not match its sha256; names the package and both hashes. */
export class PackageError extends Error {
  constructor(message: string) {
    super(message);
    // Named like a task failure: a bad package halts the group's rollout (every host would refuse it).
    this.name = "TaskError";
  }
}

/** Resolves packages to verified local files under `<cacheDir>/<sha256>`. One download per sha per run. */
export class PackageResolver {
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly source: ConfigSource,
    private readonly cacheDir: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** The local path of the instance's package, verified against `instance.sha256`. */
  file(instance: HostInstance): Promise<string> {
    const key = instance.sha256.toLowerCase();
    let p = this.pending.get(key);
    if (!p) {
      p = this.resolve(instance, key);
      this.pending.set(key, p);
      p.catch(() => this.pending.delete(key));
    }
    return p;
  }

  /** Forgets the instance's package: a host refused it (tar cannot unpack it, or it is too large once
   * unpacked), so it must not stay in the cache; the next deploy reads it from its source again. */
  async evict(instance: HostInstance): Promise<void> {
    const key = instance.sha256.toLowerCase();
    this.pending.delete(key);
    rmSync(join(this.cacheDir, key), { force: true });
  }

  private async resolve(instance: HostInstance, sha: string): Promise<string> {
    const target = join(this.cacheDir, sha);
    if (existsSync(target) && sha256(readFileSync(target)) === sha) return target;
    const bytes = await this.read(instance);
    const got = sha256(bytes);
    if (got !== sha) {
      throw new PackageError(`${instance.app}@${instance.version}: sha256 mismatch for ${describe(instance)} (expected ${sha.slice(0, 12)}…, got ${got.slice(0, 12)}…); nothing was deployed`);
    }
    mkdirSync(this.cacheDir, { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, target);
    return target;
  }

  private async read(instance: HostInstance): Promise<Buffer> {
    if ("path" in instance.package) {
      const path = instance.package.path;
      const bytes = await this.source.readBytes(path).catch((e: unknown) => {
        // A symlink out of the repo (or a loop): refused like a bad package, never read, never uploaded.
        if (e instanceof RepoFileError) throw new PackageError(`${instance.app}@${instance.version}: package ${path} refused: ${e.message}`);
        throw e;
      });
      if (!bytes) throw new PackageError(`${instance.app}@${instance.version}: package ${instance.package.path} not found in ${this.source.description}`);
      return bytes;
    }
    const url = instance.package.url;
    const res = await this.fetchImpl(url, { signal: AbortSignal.timeout(120_000) }).catch((e: Error) => {
      throw new PackageError(`${instance.app}@${instance.version}: download of ${safeUrl(url)} failed: ${e.message}`);
    });
    if (!res.ok) throw new PackageError(`${instance.app}@${instance.version}: download of ${safeUrl(url)} failed: HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function describe(instance: HostInstance): string {
  return "path" in instance.package ? instance.package.path : safeUrl(instance.package.url);
}

/** A URL without credentials or query (tokens live there), for messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
