// What the control plane knows about its proxies: per node id, whether it is connected and, per resource type,
// the last version sent, ACKed and NACKed (with the proxy's error); and counters for /metrics.
import type { ResourceKind } from "../../mesh/index.js";

/** One resource type as one node has it. */
export interface NodeTypeState {
  /** Last version sent, or null. */
  sent: string | null;
  /** Last version the node ACKed (what it runs), or null. */
  acked: string | null;
  /** Last version the node NACKed, or null; cleared by a later ACK of a newer version. */
  nacked: string | null;
  /** The node's error for the NACKed version. */
  error: string | null;
}

/** One connected (or once connected) proxy, by its node id. */
export interface NodeState {
  id: string;
  /** Open ADS streams of this node. */
  streams: number;
  /** When it connected (streams went from 0 to 1) or, with no stream open, disconnected (ms since the epoch). */
  since: number;
  /** Per resource type it asked for. */
  types: Partial<Record<ResourceKind, NodeTypeState>>;
}

/** Upper bounds (ms) of the push latency histogram's buckets. */
export const PUSH_LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

/** Counters of one resource type. */
export interface KindCounters {
  pushes: number;
  acks: number;
  nacks: number;
}

/** Counters since start. */
export interface XdsCounters {
  /** Responses sent (one per stream and type). */
  pushes: number;
  /** NACKs received. */
  nacks: number;
  /** ACKs received (of pushes and of answers to a proxy's own requests). */
  acks: number;
  /** ACKs of pushes (responses a snapshot caused): the push latency histogram's count. A proxy's first connect,
   * or its asking for new names, is answered but is no push. */
  pushAcks: number;
  pushLatencyMsSum: number;
  /** Snapshots taken. */
  snapshots: number;
  /** ACKs whose latency was at most each bound of PUSH_LATENCY_BUCKETS_MS (cumulative, as Prometheus wants). */
  pushLatencyBuckets: number[];
  /** The counters above, per resource type. */
  byKind: Record<ResourceKind, KindCounters>;
}

/** The control plane's view of its proxies, for /metrics and drift. */
export interface XdsStatus {
  /** Streams open now. */
  streams: number;
  nodes: NodeState[];
  counters: XdsCounters;
}

/** Fresh counters. */
export function zeroCounters(): XdsCounters {
  const kind = (): KindCounters => ({ pushes: 0, acks: 0, nacks: 0 });
  return {
    pushes: 0,
    nacks: 0,
    acks: 0,
    pushAcks: 0,
    pushLatencyMsSum: 0,
    snapshots: 0,
    pushLatencyBuckets: PUSH_LATENCY_BUCKETS_MS.map(() => 0),
    byKind: { cluster: kind(), endpoint: kind(), listener: kind(), route: kind() },
  };
}

/** Counts one NACK or ACK of `kind`; an ACK of a push with its latency (from the change that caused it). */
export function countReply(c: XdsCounters, kind: ResourceKind, reply: { nack: boolean; latencyMs: number | null }): void {
  if (reply.nack) {
    c.nacks++;
    c.byKind[kind].nacks++;
    return;
  }
  c.acks++;
  c.byKind[kind].acks++;
  const latencyMs = reply.latencyMs;
  if (latencyMs === null) return;
  c.pushAcks++;
  c.pushLatencyMsSum += latencyMs;
  PUSH_LATENCY_BUCKETS_MS.forEach((bound, i) => {
    if (latencyMs <= bound) c.pushLatencyBuckets[i]!++;
  });
}

/** A deep copy of counters (status() hands out copies). */
export function copyCounters(c: XdsCounters): XdsCounters {
  return structuredClone(c);
}

/** The state of one type of one node, made on first use. */
export function typeState(node: NodeState, kind: ResourceKind): NodeTypeState {
  return (node.types[kind] ??= { sent: null, acked: null, nacked: null, error: null });
}
