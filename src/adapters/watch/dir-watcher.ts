// Watches a config directory with chokidar 5 and calls back once per burst of changes (editors and
// `git commit` write several files in a row). `.git/` is not watched, except the few files that say
// which commit HEAD is (HEAD, packed-refs, refs/heads/…): in a Git repo a new commit is the change that matters.
import { watch, type FSWatcher } from "chokidar";
import { relative, sep } from "node:path";

/** Options of watchDir. */
export interface DirWatchOptions {
  /** The repository's git directory when it is not `<dir>/.git` (a config repo in a subdirectory). */
  gitDir?: string | null;
  /** Quiet time after the last event before `onChange` runs (default 300 ms). */
  debounceMs?: number;
  /** Called with an error the watcher met (it keeps watching). */
  onError?: (e: Error) => void;
}

/** A running watch; `close()` stops it. */
export interface DirWatch {
  /** Resolves once the initial scan is done (events before it are not reported). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Calls `onChange(paths)` (repo-relative, `/`-separated) after each debounced burst of changes under `dir`. */
export function watchDir(dir: string, onChange: (paths: string[]) => void, opts: DirWatchOptions = {}): DirWatch {
  const debounceMs = opts.debounceMs ?? 300;
  const gitDir = opts.gitDir ?? null;
  const watcher: FSWatcher = watch(gitDir ? [dir, gitDir] : dir, {
    ignoreInitial: true,
    persistent: true,
    ignored: (path) => (gitDir && isUnder(gitDir, path) ? ignored(`.git/${relative(gitDir, path)}`.replace(/\/$/, "")) : ignored(relative(dir, path))),
  });
  let timer: NodeJS.Timeout | null = null;
  let batch = new Set<string>();
  watcher.on("all", (_event, path) => {
    batch.add(relative(dir, path).split(sep).join("/"));
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const paths = [...batch].sort();
      batch = new Set();
      onChange(paths);
    }, debounceMs);
  });
  watcher.on("error", (e) => opts.onError?.(e instanceof Error ? e : new Error(String(e))));
  const ready = new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  return {
    ready,
    close: async () => {
      if (timer) clearTimeout(timer);
      timer = null;
      await watcher.close();
    },
  };
}

function isUnder(parent: string, path: string): boolean {
  const rel = relative(parent, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep));
}

/** Whether a repo-relative path is not worth watching: everything in `.git/` but what names HEAD's commit,
 * and amphi's own state directory (runs are written there during a reconcile). */
export function ignored(rel: string): boolean {
  const p = rel.split(sep).join("/");
  if (p === ".amphi" || p.startsWith(".amphi/") || p === "node_modules" || p.startsWith("node_modules/")) return true;
  if (p !== ".git" && !p.startsWith(".git/")) return false;
  if (p === ".git" || p === ".git/HEAD" || p === ".git/packed-refs" || p === ".git/refs" || p === ".git/refs/heads") return false;
  return !(p.startsWith(".git/refs/heads/") && !p.endsWith(".lock"));
}
