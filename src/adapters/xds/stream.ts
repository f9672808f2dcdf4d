// One ADS stream, state of the world: per type URL the names it subscribed to (LDS/CDS: wildcard when it names
// none), the last nonce and version sent. A request carrying the last nonce is an ACK (no error_detail) or a NACK
// (error_detail: the proxy stays on its last good version; logged and counted, nothing is resent until the
// resources change); a request with an older nonce is stale and ignored. A response goes out when the stream
// subscribes, when its names change, or when the resources it subscribed to change (route and endpoint responses
// then carry only the resources that changed).
import { TYPE_URL, type MeshResource, type ResourceKind } from "../../mesh/index.js";
import { versionOf } from "../../mesh/index.js";

/** A DiscoveryRequest as proto-loader decodes it (snake_case, defaults absent). */
export interface DiscoveryRequest {
  version_info?: string;
  node?: DiscoveryNode;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

/** The node of a request as proto-loader decodes it: its id, and its metadata (a google.protobuf.Struct; protobufjs
 * bundles Struct's descriptor with camelCase field names, so a string is `stringValue` even with keepCase). */
export interface DiscoveryNode {
  id?: string;
  metadata?: { fields?: Record<string, { stringValue?: string }> };
}

/** One resource of a response, encoded as its type. */
export interface WireResource {
  type_url: string;
  value: Uint8Array;
}

/** A DiscoveryResponse to write. `value` holds each resource encoded as its type. */
export interface DiscoveryResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  /** Shared by every response made from one selection (and so with one version and type). */
  resources: readonly WireResource[];
}

const wireOfSelections = new WeakMap<readonly MeshResource[], WireResource[]>();
const changedWireOfSelections = new WeakMap<readonly MeshResource[], WireResource[]>();

/** What a stream needs from the server. */
export interface StreamHost {
  /** False until the first snapshot: requests are held (answered then), so no proxy is told its resources are gone. */
  ready(): boolean;
  /** The resources now served of one kind. */
  served(kind: ResourceKind): ServedKind;
  /** A resource's bytes (encoded once per content, shared by all streams). */
  encoded(kind: ResourceKind, resource: MeshResource): Uint8Array;
  write(kind: ResourceKind, response: DiscoveryResponse): void;
  /** Called for an ACK or NACK of a response this stream sent; `causedAt` is null for a response that was no push. */
  onReply(kind: ResourceKind, reply: { version: string; error: string | null; causedAt: number | null }): void;
  onSent(kind: ResourceKind, version: string): void;
  onNode(id: string, node: DiscoveryNode): void;
  log(line: string): void;
}

/** The resources of one kind, indexed once per snapshot so a push to thousands of streams stays cheap. */
export interface ServedKind {
  byName: ReadonlyMap<string, MeshResource>;
  /** What a wildcard subscription gets (sorted by name), and its version. */
  wildcard: readonly MeshResource[];
  wildcardVersion: string;
  /** The index this one replaced, and the names whose content differs from it (new ones included). */
  previous: ServedKind | null;
  changed: ReadonlySet<string>;
  /** Per set of names subscribed (its key), what it selects and its version: streams that name the same
   * resources (every sidecar's EDS) share one computation per snapshot. */
  named: Map<string, { selected: MeshResource[]; version: string }>;
}

/** Indexes one kind's resources (sorted by name, as buildResources makes them); `previous`: what it replaces. */
export function serve(resources: readonly MeshResource[], previous: ServedKind | null = null): ServedKind {
  const wildcard = resources.filter((r) => !r.onlyByName);
  const byName = new Map(resources.map((r) => [r.name, r]));
  const changed = new Set(resources.filter((r) => previous?.byName.get(r.name)?.hash !== r.hash).map((r) => r.name));
  // Only one step back is kept: older indexes are not needed (see `send`) and must not stay in memory.
  if (previous) previous.previous = null;
  return { byName, wildcard, wildcardVersion: versionOf(wildcard), previous, changed, named: new Map() };
}

/** Route and endpoint responses may carry only what changed (xDS state of the world: only Listener and Cluster
 * responses must hold every resource); a sidecar naming every cluster then gets one ClusterLoadAssignment, not
 * a thousand, when one service's instances change. */
const PARTIAL_KINDS: ReadonlySet<ResourceKind> = new Set(["route", "endpoint"]);

interface Subscription {
  /** Null: wildcard (every resource of the type). */
  names: Set<string> | null;
  /** The names as the last request listed them. */
  raw: string[];
  /** `names` sorted and joined: the key of ServedKind.named. */
  namesKey: string;
  nonce: string | null;
  version: string | null;
  /** The index the last response was made from. */
  sentFrom: ServedKind | null;
  /** When the change that caused the last response happened (ms since epoch), for push latency; null when the
   * last response answered the proxy's own request (its first connect, new names): no push, no latency. */
  causedAt: number | null;
}

const KIND_OF_URL = new Map<string, ResourceKind>(Object.entries(TYPE_URL).map(([k, v]) => [v, k as ResourceKind]));

/** The protocol state of one ADS stream. */
export class AdsStream {
  private readonly subs = new Map<ResourceKind, Subscription>();
  private nonceCounter = 0;
  nodeId: string | null = null;

  constructor(private readonly host: StreamHost, readonly peer: string) {}

  /** Handles one DiscoveryRequest. */
  request(req: DiscoveryRequest): void {
    if (req.node?.id && this.nodeId === null) {
      this.nodeId = req.node.id;
      this.host.onNode(req.node.id, req.node);
    }
    const kind = KIND_OF_URL.get(req.type_url ?? "");
    if (!kind) return this.host.log(`xds ${this.who()}: ignoring a request for type ${JSON.stringify(req.type_url)} (not served)`);
    const sub = this.subs.get(kind);
    const nonce = req.response_nonce ?? "";
    if (sub && nonce !== "") {
      if (nonce !== sub.nonce) return; // stale: answers an older response
      const error = req.error_detail ? (req.error_detail.message ?? `code ${req.error_detail.code ?? "?"}`) : null;
      if (error !== null) this.host.log(`xds ${this.who()}: NACK of ${kind} version ${sub.version}: ${error} (the proxy keeps version ${req.version_info || "none"})`);
      this.host.onReply(kind, { version: sub.version ?? "", error, causedAt: sub.causedAt });
    }
    const raw = req.resource_names ?? [];
    // An ACK repeats the names as they were sent (a sidecar names every cluster): compared as sent first.
    if (sub && sameArray(sub.raw, raw)) return;
    const names = this.namesOf(kind, raw);
    if (!sub || !sameNames(sub.names, names)) {
      const namesKey = names === null ? "" : keyOf(names);
      this.subs.set(kind, { names, raw, namesKey, nonce: sub?.nonce ?? null, version: sub?.version ?? null, sentFrom: null, causedAt: null });
      this.send(kind, true, null);
    } else {
      sub.raw = raw;
    }
  }

  /** After a new snapshot: resends each subscribed type whose resources changed for this stream (and answers the
   * subscriptions held before the first snapshot). */
  push(causedAt: number): void {
    // A subscription never answered (held until the first snapshot) gets its first answer: no push.
    for (const [kind, sub] of this.subs) this.send(kind, sub.nonce === null, sub.nonce === null ? null : causedAt);
  }

  private send(kind: ResourceKind, force: boolean, causedAt: number | null): void {
    if (!this.host.ready()) return;
    const sub = this.subs.get(kind)!;
    const served = this.host.served(kind);
    const { selected, version } = sub.names === null ? { selected: served.wildcard, version: served.wildcardVersion } : namedSelection(served, sub.names, sub.namesKey);
    if (!force && version === sub.version) {
      sub.sentFrom = served; // the proxy's resources are this index's too
      return;
    }
    // What the proxy already has from the index before this one need not be sent again (route, endpoint only).
    const partial = !force && PARTIAL_KINDS.has(kind) && sub.sentFrom !== null && sub.sentFrom === served.previous;
    const resources = partial ? this.changedWire(kind, served, selected) : this.sharedWire(kind, selected);
    sub.nonce = String(++this.nonceCounter);
    sub.version = version;
    sub.sentFrom = served;
    sub.causedAt = causedAt;
    this.host.write(kind, {
      version_info: version,
      type_url: TYPE_URL[kind],
      nonce: sub.nonce,
      resources,
    });
    this.host.onSent(kind, version);
  }

  /** The changed part of a shared selection, made once per selection (so its body is encoded once too). */
  private changedWire(kind: ResourceKind, served: ServedKind, selected: readonly MeshResource[]): WireResource[] {
    let wire = changedWireOfSelections.get(selected);
    if (!wire) {
      wire = this.wire(kind, selected.filter((r) => served.changed.has(r.name)));
      changedWireOfSelections.set(selected, wire);
    }
    return wire;
  }

  private wire(kind: ResourceKind, selected: readonly MeshResource[]): WireResource[] {
    return selected.map((r) => ({ type_url: TYPE_URL[kind], value: this.host.encoded(kind, r) }));
  }

  /** The wire form of a selection shared by many streams (a wildcard, or one set of names), made once: every
   * response carrying it holds the same array, which the server also encodes once (see server.ts). */
  private sharedWire(kind: ResourceKind, selected: readonly MeshResource[]): WireResource[] {
    let wire = wireOfSelections.get(selected);
    if (!wire) {
      wire = this.wire(kind, selected);
      wireOfSelections.set(selected, wire);
    }
    return wire;
  }

  /** LDS and CDS without names are a wildcard subscription; RDS and EDS without names subscribe to nothing. */
  private namesOf(kind: ResourceKind, names: string[]): Set<string> | null {
    if (names.length === 0 && (kind === "listener" || kind === "cluster")) return null;
    if (names.includes("*")) return null;
    return setOf(names);
  }

  private who(): string {
    return `${this.nodeId ?? "(no node id)"} at ${this.peer}`;
  }
}

/** What a set of names selects (sorted by name) and its version, computed once per index and set of names. */
function namedSelection(served: ServedKind, names: Set<string>, key: string): { selected: MeshResource[]; version: string } {
  let entry = served.named.get(key);
  if (!entry) {
    const selected = [...names].sort().flatMap((n) => served.byName.get(n) ?? []);
    entry = { selected, version: versionOf(selected) };
    served.named.set(key, entry);
  }
  return entry;
}

// A list of names decoded once is shared by every stream that sent it (requests.ts): its Set and key are too.
const setsOfLists = new WeakMap<readonly string[], Set<string>>();
const keysOfSets = new WeakMap<Set<string>, string>();

function setOf(names: readonly string[]): Set<string> {
  let set = setsOfLists.get(names);
  if (!set) {
    set = new Set(names);
    setsOfLists.set(names, set);
  }
  return set;
}

/** `names` sorted and joined (once per shared Set). */
function keyOf(names: Set<string>): string {
  let key = keysOfSets.get(names);
  if (key === undefined) {
    key = [...names].sort().join("\n");
    keysOfSets.set(names, key);
  }
  return key;
}

function sameArray(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameNames(a: Set<string> | null, b: Set<string> | null): boolean {
  if (a === null || b === null) return a === b;
  if (a === b) return true;
  return a.size === b.size && [...a].every((n) => b.has(n));
}
