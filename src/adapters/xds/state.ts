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
  /** Per resource type it asked for. */
  types: Partial<Record<ResourceKind, NodeTypeState>>;
}

/** Counters since start. */
export interface XdsCounters {
  /** Responses sent (one per stream and type). */
  pushes: number;
  /** NACKs received. */
  nacks: number;
  /** ACKs received for a push, with the time from the snapshot that caused it to the ACK. */
  acks: number;
  pushLatencyMsSum: number;
  pushLatencyMsMax: number;
  /** Snapshots taken. */
  snapshots: number;
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
  return { pushes: 0, nacks: 0, acks: 0, pushLatencyMsSum: 0, pushLatencyMsMax: 0, snapshots: 0 };
}

/** The state of one type of one node, made on first use. */
export function typeState(node: NodeState, kind: ResourceKind): NodeTypeState {
  return (node.types[kind] ??= { sent: null, acked: null, nacked: null, error: null });
}
