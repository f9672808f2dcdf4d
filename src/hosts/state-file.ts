// Reads and writes `<baseDir>/state.json` on a host through a session. Writes are atomic (temp file in the
// same directory, then rename), so a dropped connection leaves the old record or the new one, never half.
import { emptyHostState, type HostStateFile } from "../model/index.js";
import type { HostSession } from "../ports/hosts.js";
import { claimHostState } from "./claim.js";
import { TaskError } from "./errors.js";

/** Path of the state file on the host. */
export function stateFilePath(baseDir: string): string {
  return `${baseDir}/state.json`;
}

// `$1` is the path; cat prints nothing and exits 0 when the file does not exist yet.
const READ = 'if [ -f "$1" ]; then cat "$1"; fi';
// umask 077: the record holds env values (secrets included) that only the deploy user may read.
const WRITE = 'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"';

/** Reads the host's state file; a host amphi never touched gets an empty state. A file that is not
 * amphi's JSON is an error naming the host and path (amphi will not overwrite what it cannot read). */
export async function readHostState(session: HostSession, env: string, now: string): Promise<HostStateFile> {
  const { host, baseDir, group } = session.host;
  const path = stateFilePath(baseDir);
  const r = await session.exec(["sh", "-c", READ, "amphi", path]);
  if (r.code !== 0) throw new TaskError(host, `cannot read ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
  if (r.stdout.trim() === "") return emptyHostState(env, group, host, now);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch (e) {
    throw new TaskError(host, `${path} is not valid JSON (${(e as Error).message}); fix or remove it`);
  }
  const state = parsed as Partial<HostStateFile>;
  if (state.kind !== "HostState" || typeof state.apps !== "object" || state.apps === null) {
    throw new TaskError(host, `${path} is not an amphi HostState record; fix or remove it`);
  }
  return claimHostState(session.host, { ...emptyHostState(env, group, host, now), ...state } as HostStateFile, env);
}

/** Writes the host's state file atomically. */
export async function writeHostState(session: HostSession, state: HostStateFile): Promise<void> {
  const path = stateFilePath(session.host.baseDir);
  const r = await session.exec(["sh", "-c", WRITE, "amphi", path], { stdin: JSON.stringify(state, null, 2) + "\n" });
  if (r.code !== 0) throw new TaskError(session.host.host, `cannot write ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
}
