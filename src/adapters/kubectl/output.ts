// Reading kubectl's human output back into per-object results. kubectl 1.32 prints, for
// `apply --server-side`, one `<resource>/<name> serverside-applied` line per object in input order (the
// namespace is not printed) and one error per failed object on stderr, also in order; for
// `delete`, `<resource> "<name>" deleted` per object and `Error from server (…): <resource> "<name>" …`.
import type { K8sObject } from "../../model/index.js";
import type { ObjectFailure } from "./errors.js";
import { meaningfulLines } from "./errors.js";

/** `Kind/namespace/name` (or `Kind/name` for cluster-scoped objects), as plan steps name objects. */
export function objectId(o: K8sObject): string {
  return o.metadata.namespace ? `${o.kind}/${o.metadata.namespace}/${o.metadata.name}` : `${o.kind}/${o.metadata.name}`;
}

const APPLIED = /^([a-z0-9.-]+)\/(\S+) serverside-applied$/;

/** Indexes into `docs` of the objects kubectl reports as applied. Lines are matched to objects in order
 * (the same kind and name can occur in two namespaces; kubectl does not print which). */
export function parseAppliedLines(stdout: string, docs: readonly K8sObject[]): Set<number> {
  const applied = new Set<number>();
  let next = 0;
  for (const line of stdout.split("\n")) {
    const m = APPLIED.exec(line.trim());
    if (!m) continue;
    const kind = m[1]!.split(".")[0]!;
    for (let i = next; i < docs.length; i++) {
      if (docs[i]!.kind.toLowerCase() === kind && docs[i]!.metadata.name === m[2]) {
        applied.add(i);
        next = i + 1;
        break;
      }
    }
  }
  return applied;
}

// Lines that start one error: kubectl prefixes API errors, wraps conflicts, and prefixes its own with `error:`.
const ERROR_START = /^(Error from server|error:|Apply failed with|The connection to the server|Unable to connect to the server)/;

/** kubectl's errors, one per entry, each on one line (a conflict's field list joined with spaces), without
 * warnings and kubectl's conflict advice. Text before the first recognised error line forms its own entry. */
export function splitErrors(stderr: string): string[] {
  const blocks: string[][] = [];
  for (const line of meaningfulLines(stderr)) {
    if (ERROR_START.test(line) || blocks.length === 0) blocks.push([line]);
    else blocks[blocks.length - 1]!.push(line.trim());
  }
  // A lone error comes as `error: Apply failed …`, several without the prefix: drop it for the same text.
  return blocks.map((b) => b.join(" ").replace(/^error: (?=Apply failed|Error from server)/, ""));
}

const DELETED = /^([a-z0-9.-]+) "([^"]+)" deleted/;

/** Sorts the objects of one `kubectl delete` into deleted, absent (kubectl said nothing: --ignore-not-found)
 * and failed (an error names it, or an error names no object and it was not deleted). */
export function parseDeleteOutput(
  stdout: string,
  stderr: string,
  refs: readonly { kind: string; namespace: string; name: string }[],
): { deleted: string[]; absent: string[]; failed: ObjectFailure[] } {
  const id = (r: { kind: string; namespace: string; name: string }): string => `${r.kind}/${r.namespace}/${r.name}`;
  const matches = (r: { kind: string; name: string }, resource: string, name: string): boolean =>
    name === r.name && resource.split(".")[0]!.startsWith(r.kind.toLowerCase());
  const deleted = new Set<number>();
  for (const line of stdout.split("\n")) {
    const m = DELETED.exec(line.trim());
    const i = m ? refs.findIndex((r, j) => !deleted.has(j) && matches(r, m[1]!, m[2]!)) : -1;
    if (i >= 0) deleted.add(i);
  }
  const failed = new Map<number, string>();
  const unattributed: string[] = [];
  for (const error of splitErrors(stderr)) {
    const m = /^Error from server \([^)]*\): ([a-z0-9.-]+) "([^"]+)"/.exec(error);
    const i = m ? refs.findIndex((r, j) => !deleted.has(j) && !failed.has(j) && matches(r, m[1]!, m[2]!)) : -1;
    if (i >= 0) failed.set(i, error);
    else unattributed.push(error);
  }
  if (unattributed.length > 0) refs.forEach((_, i) => deleted.has(i) || failed.has(i) || failed.set(i, unattributed.join(" / ")));
  return {
    deleted: refs.flatMap((r, i) => (deleted.has(i) ? [id(r)] : [])),
    absent: refs.flatMap((r, i) => (deleted.has(i) || failed.has(i) ? [] : [id(r)])),
    failed: [...failed].sort((a, b) => a[0] - b[0]).map(([i, message]) => ({ object: id(refs[i]!), message })),
  };
}
