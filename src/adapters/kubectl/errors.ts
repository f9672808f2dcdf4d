// Errors of the kubectl adapter, subject first: the cluster and its context, then kubectl's own words.
import type { ClusterModel } from "../../model/index.js";

/** kubectl could not be run, or could not talk to the cluster (bad context, unreachable, not allowed to
 * read): the cluster's state is unknown. The lead reports the cluster as unreachable with this message. */
export class KubectlError extends Error {
  readonly cluster: string;
  readonly context: string;
  constructor(
    cluster: Pick<ClusterModel, "name" | "context">,
    causeText: string,
    /** kubectl's full stderr (may be empty). */
    readonly stderr: string,
  ) {
    super(`cluster ${cluster.name} (context ${cluster.context}): ${causeText}`);
    this.name = "KubectlError";
    this.cluster = cluster.name;
    this.context = cluster.context;
  }
}

/** One object the cluster refused, and kubectl's message for it. */
export interface ObjectFailure {
  /** `Kind/namespace/name`; empty when the failure concerns the whole task. */
  object: string;
  message: string;
}

/** The cluster refused (part of) a change: conflicts, validation, Forbidden, or a rollout that did not become
 * healthy. Named `TaskError` so the executor halts the rest of the cluster's rollout, as for hosts. */
export class ClusterTaskError extends Error {
  constructor(
    readonly cluster: string,
    readonly failures: ObjectFailure[],
    /** What did succeed before the failure (objects applied or deleted), for the run record. */
    readonly done: string[] = [],
  ) {
    super(`${cluster}: ${failures.map((f) => (f.object ? `${f.object}: ${f.message}` : f.message)).join("; ")}`);
    this.name = "TaskError";
  }
}

// The advice kubectl appends to every conflict; the first line already names the field and the manager.
const CONFLICT_ADVICE_START = /^Please review the fields above/;
const CONFLICT_ADVICE_END = /^See https:\/\/kubernetes\.io\/docs\/reference\/using-api\/server-side-apply\/#conflicts/;

// client-go's log lines (`E1128 12:31:29.403027   23167 memcache.go:265] …`): noise next to kubectl's own message.
const KLOG = /^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\] /;

/** kubectl's stderr as lines, without deprecation warnings, kubectl's conflict advice, repeated lines, and
 * client-go log lines (unless nothing else is left). */
export function meaningfulLines(stderr: string): string[] {
  const out: string[] = [];
  let advice = false;
  for (const line of stderr.split("\n")) {
    if (CONFLICT_ADVICE_START.test(line)) advice = true;
    else if (advice) advice = !CONFLICT_ADVICE_END.test(line);
    else if (line.trim() !== "" && !/^Warning: /.test(line) && out[out.length - 1] !== line.trimEnd()) out.push(line.trimEnd());
  }
  const plain = out.filter((l) => !KLOG.test(l));
  return plain.length > 0 ? plain : out;
}

/** The first `n` meaningful lines of kubectl's stderr, joined with " / " (for one-line messages). */
export function firstLines(stderr: string, n = 3): string {
  const lines = meaningfulLines(stderr);
  return lines.slice(0, n).join(" / ") + (lines.length > n ? ` (+${lines.length - n} more lines)` : "");
}

const UNREACHABLE = [
  /Unable to connect to the server/,
  /The connection to the server .* was refused/,
  /connection refused/,
  /context was not found for specified context/,
  /context "[^"]*" does not exist/,
  /no context exists with the name/,
  /no such host/,
  /i\/o timeout/,
  /TLS handshake timeout/,
  /Client\.Timeout exceeded/,
  /the server has asked for the client to provide credentials/,
  /error: You must be logged in to the server/,
  /getting credentials: exec/,
];

/** Whether kubectl's stderr says it never got to talk to the cluster (as opposed to the cluster refusing). */
export function isUnreachable(stderr: string): boolean {
  return UNREACHABLE.some((re) => re.test(stderr));
}
