// Reads and writes `<baseDir>/state.json` on a host through a session. A write is durable: the new text
// goes to a temp file that must arrive whole and is flushed to disk, the previous good copy is kept as
// state.json.bak, then one rename (lib.sh state_write). A read that finds state.json empty or corrupt
// recovers from the backup with a warning, and never takes a bad file for an empty host: that would plan
// to re-create every app running there.
import { emptyHostState, type HostStateFile } from "../model/index.js";
import type { HostSession } from "../ports/hosts.js";
import { TaskError } from "./errors.js";
import { libScript } from "./scripts.js";

/** Path of the state file on the host. */
export function stateFilePath(baseDir: string): string {
  return `${baseDir}/state.json`;
}

/** One copy of the record as the host printed it (lib.sh state_dump). */
type Copy = { state: "missing" | "unreadable" } | { state: "present"; text: string };

const MARK = /^--amphi-state-- (state\.json(?:\.bak)?) (present|missing|unreadable)$/;

/** Reads the host's state file; a host amphi never touched gets an empty state. A state.json that is empty
 * or not amphi's JSON is replaced by its backup, with a warning through `warn` naming host, file and what
 * was wrong; when the backup is no good either, an error naming both (amphi will not overwrite what it
 * cannot read, nor guess). */
export async function readHostState(session: HostSession, env: string, now: string, warn: (line: string) => void = () => {}): Promise<HostStateFile> {
  const { host, baseDir, group } = session.host;
  const path = stateFilePath(baseDir);
  const r = await session.exec(["sh", "-c", libScript("state_dump"), "amphi", baseDir, "", env]);
  if (r.code !== 0) throw new TaskError(host, `cannot read ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return parseStateDump(r.stdout, { host, path, fresh: () => emptyHostState(env, group, host, now), warn });
}

/** Picks the record from what state_dump printed (see readHostState). Exported for probe.ts, which gets the
 * same text as part of its one round trip. */
export function parseStateDump(out: string, o: { host: string; path: string; fresh: () => HostStateFile; warn: (line: string) => void }): HostStateFile {
  const copies = splitDump(out);
  const main = copies.get("state.json") ?? { state: "missing" };
  const bak = copies.get("state.json.bak") ?? { state: "missing" };
  if (main.state === "missing" && bak.state === "missing") return o.fresh();
  const mainRead = check(main, o.path, o.fresh);
  if (typeof mainRead !== "string") return mainRead;
  const bakRead = check(bak, `${o.path}.bak`, o.fresh);
  if (typeof bakRead === "string") {
    throw new TaskError(o.host, `${mainRead}, and ${bakRead}; amphi will not guess what runs there: put a good copy back as ${o.path}`);
  }
  o.warn(`${o.host}: ${mainRead}; using the previous copy ${o.path}.bak (written ${bakRead.updatedAt}); the next change on this host rewrites ${o.path}`);
  return bakRead;
}

function splitDump(out: string): Map<string, Copy> {
  const copies = new Map<string, Copy>();
  let name: string | null = null;
  let lines: string[] = [];
  const close = () => {
    // state_dump adds one newline after the file's text
    if (name !== null && copies.get(name)?.state === "present") copies.set(name, { state: "present", text: lines.join("\n").replace(/\n$/, "") });
  };
  for (const line of out.split("\n")) {
    const m = MARK.exec(line);
    if (!m) {
      lines.push(line);
      continue;
    }
    close();
    name = m[1]!;
    lines = [];
    copies.set(name, m[2] === "present" ? { state: "present", text: "" } : { state: m[2] as "missing" | "unreadable" });
  }
  close();
  return copies;
}

/** The record in one copy, or what is wrong with it (`/base/state.json is empty (0 bytes)`). */
function check(copy: Copy, path: string, fresh: () => HostStateFile): HostStateFile | string {
  if (copy.state !== "present") return copy.state === "missing" ? `${path} is missing` : `${path} cannot be read`;
  if (copy.text.trim() === "") return `${path} is empty (${Buffer.byteLength(copy.text)} bytes)`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(copy.text);
  } catch (e) {
    return `${path} is not valid JSON (${(e as Error).message})`;
  }
  const state = parsed as Partial<HostStateFile>;
  if (typeof state !== "object" || state === null || state.kind !== "HostState" || typeof state.apps !== "object" || state.apps === null) {
    return `${path} is not an amphi HostState record`;
  }
  return { ...fresh(), ...state } as HostStateFile;
}

/** Writes the host's state file durably (see the top of this file). */
export async function writeHostState(session: HostSession, state: HostStateFile): Promise<void> {
  const path = stateFilePath(session.host.baseDir);
  const text = JSON.stringify(state, null, 2) + "\n";
  const argv = ["sh", "-c", `${libScript('state_write "$1"')}`, "amphi", session.host.baseDir, "", state.env, String(Buffer.byteLength(text))];
  const r = await session.exec(argv, { stdin: text });
  if (r.code !== 0) throw new TaskError(session.host.host, `cannot write ${path}: ${r.stderr.trim().replace(/^amphi: /, "") || `exit ${r.code}`}`);
}
