// Reads and writes `<baseDir>/state.json` on a host through a session. A write is durable: the new text
// goes to a temp file that must arrive whole and is flushed to disk, the previous good copy is kept as
// state.json.bak, then one rename (STATE_WRITE_SH). A read that finds state.json empty or corrupt recovers from the
// backup with a warning, and never takes a bad file for an empty host: that would plan to re-create every
// app running there.
import { emptyHostState, type HostStateFile } from "../model/index.js";
import type { HostRef, HostSession } from "../ports/hosts.js";
import { claimHostState } from "./claim.js";
import { TaskError } from "./errors.js";

/** Path of the state file on the host. */
export function stateFilePath(baseDir: string): string {
  return `${baseDir}/state.json`;
}

/** Prints state.json and state.json.bak of base dir `$1`, each as a line `--amphi-state-- NAME present|missing|
 * unreadable` followed, when present, by the file's text and one newline. probe.sh runs it too (passed as an
 * argument), so one probe round trip carries the record. When both files are there (the usual case), one cat
 * prints both, the backup's line coming from stdin between them: probes run often, and each cat is a process. */
export const STATE_DUMP_SH = `m=--amphi-state-- s=$1/state.json b=$1/state.json.bak
if [ -f "$s" ] && [ -r "$s" ] && [ -f "$b" ] && [ -r "$b" ]; then
  echo "$m state.json present"
  cat "$s" - "$b" <<EOF

$m state.json.bak present
EOF
  echo
  exit 0
fi
for f in state.json state.json.bak; do
  p=$1/$f
  if [ ! -e "$p" ]; then echo "--amphi-state-- $f missing"
  elif [ ! -r "$p" ] || [ -d "$p" ]; then echo "--amphi-state-- $f unreadable"
  else echo "--amphi-state-- $f present"; cat "$p"; echo
  fi
done`;

// STATE_WRITE_SH BASE BYTES < TEXT. The temp file must hold BYTES bytes (a writer cut off mid-way never replaces the
// record with half of one) and is flushed to disk: dd writes it and flushes it in one process (conv=fsync: GNU and
// busybox); where dd cannot, cat, then \`sync FILE\` (coreutils >= 8.24 flushes that file; older coreutils and busybox
// flush everything, as safe), else sync. (A dd that fails after reading part of the text leaves cat the rest: the
// byte count refuses it.) The previous state.json, when whole as amphi writes it (\`{\` first, read by the shell
// itself; \`}\` alone on the last line), becomes state.json.bak through a hard link made in its place (no copy that
// could be half written; the moment .bak is missing, state.json is still the good record); where no hard link can be
// made, a copy renamed into place. Then one rename, and the directory is flushed. Each process here is a few ms on a
// small VM and a deploy writes the record twice: 6 in all, not 8. umask 077: the record holds env values (secrets
// included) that only the deploy user may read.
/** Writes state.json under base dir `$1` from stdin, which must hold `$2` bytes (see above); on failure says why on
 * stderr and exits 1. Host scripts run it too (passed as an argument), so a state write can share a round trip. */
export const STATE_WRITE_SH = `umask 077 && { [ -d "$1" ] || mkdir -p "$1"; } || exit 1
f=$1/state.json t=$1/state.json.tmp.$$
dd of="$t" bs=65536 conv=fsync 2>/dev/null || { cat >"$t" && { sync "$t" 2>/dev/null || sync; }; } ||
  { rm -f "$t"; echo "cannot write $t" >&2; exit 1; }
n=$(wc -c <"$t") && n=\${n##* }
if [ "$n" != "$2" ]; then rm -f "$t"; echo "$f not replaced: got $n of $2 bytes" >&2; exit 1; fi
h=""
if [ -s "$f" ] && { IFS= read -r h <"$f" || [ -n "$h" ]; } 2>/dev/null && [ "\${h%"\${h#?}"}" = "{" ] && [ "$(tail -n 1 "$f")" = "}" ]; then
  ln -f "$f" "$f.bak" 2>/dev/null || { cp -p "$f" "$f.bak.tmp.$$" && mv -f "$f.bak.tmp.$$" "$f.bak"; } ||
    { echo "cannot keep $f.bak" >&2; exit 1; }
fi
mv -f "$t" "$f" || { echo "cannot replace $f" >&2; exit 1; }
sync "$1" 2>/dev/null || sync`;

/** One copy of the record as the host printed it (STATE_DUMP_SH). */
type Copy = { state: "missing" | "unreadable" } | { state: "present"; text: string };

const MARK = /^--amphi-state-- (state\.json(?:\.bak)?) (present|missing|unreadable)$/;

/** Reads the host's state file; a host amphi never touched gets an empty state. A state.json that is empty
 * or not amphi's JSON is replaced by its backup, with a warning through `warn` naming host, file and what
 * was wrong; when the backup is no good either, an error naming both (amphi will not overwrite what it
 * cannot read, nor guess). */
export async function readHostState(session: HostSession, env: string, now: string, warn: (line: string) => void = () => {}): Promise<HostStateFile> {
  const { host, baseDir, group } = session.host;
  const path = stateFilePath(baseDir);
  const r = await session.exec(["sh", "-c", STATE_DUMP_SH, "amphi", baseDir]);
  if (r.code !== 0) throw new TaskError(host, `cannot read ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return hostStateFromDump(session.host, r.stdout, env, now, warn);
}

/** The record in what STATE_DUMP_SH printed on `ref`, checked as readHostState checks it (for a script that
 * ran the dump along with its own work). */
export function hostStateFromDump(ref: HostRef, dump: string, env: string, now: string, warn: (line: string) => void = () => {}): HostStateFile {
  const { host, baseDir, group } = ref;
  const state = parseStateDump(dump, { host, path: stateFilePath(baseDir), fresh: () => emptyHostState(env, group, host, now), warn });
  return claimHostState(ref, state, env);
}

/** Picks the record from what STATE_DUMP_SH printed (see readHostState). */
function parseStateDump(out: string, o: { host: string; path: string; fresh: () => HostStateFile; warn: (line: string) => void }): HostStateFile {
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
    // the dump adds one newline after the file's text
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

/** The text of state.json for `state`. */
export function stateFileText(state: HostStateFile): string {
  return JSON.stringify(state, null, 2) + "\n";
}

/** A state.json write that failed: nothing after it in the same script ran. */
export class StateWriteError extends TaskError {}

/** The error of a failed state.json write on `ref`, from what STATE_WRITE_SH said. */
export function stateWriteError(ref: HostRef, stderr: string, code: number): StateWriteError {
  const why = stderr.split("\n").map((l) => l.trim()).filter(Boolean).join("; ");
  return new StateWriteError(ref.host, `cannot write ${stateFilePath(ref.baseDir)}: ${why || `exit ${code}`}`);
}

/** Writes the host's state file durably (see the top of this file). */
export async function writeHostState(session: HostSession, state: HostStateFile): Promise<void> {
  const text = stateFileText(state);
  const r = await session.exec(["sh", "-c", STATE_WRITE_SH, "amphi", session.host.baseDir, String(Buffer.byteLength(text))], { stdin: text });
  if (r.code !== 0) throw stateWriteError(session.host, r.stderr, r.code);
}
