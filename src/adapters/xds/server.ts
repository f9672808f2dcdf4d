// The ADS server: `envoy.service.discovery.v3.AggregatedDiscoveryService` over @grpc/grpc-js, state of the world
// (Delta answers UNIMPLEMENTED, grpc-js's default for a method not provided). It serves the resources of the last
// snapshot (a rate-limited app's sidecars get their own inbound listener); a new snapshot pushes to every stream
// whose subscribed resources changed and to no other. Resources are encoded once per content (protobufjs, `Any`
// fields as their typed messages), shared responses once per selection (requests.ts), and what is handed to
// grpc-js and not yet flushed stays within a budget (budget.ts).
import * as grpc from "@grpc/grpc-js";
import { buildResources, parseHostSidecarNode, parseSidecarNode, RESOURCE_KINDS, type MeshResource, type MeshResources, type MeshSnapshot, type ResourceKind, TYPE_URL } from "../../mesh/index.js";
import { adsPackageDefinition, encodeResource } from "./protos.js";
import { sharedBodySerializer, sharedNamesDeserializer } from "./requests.js";
import { SendBudget, StreamSender } from "./budget.js";

const SEND_BUDGET_BYTES = 16 * 1024 * 1024;
import { AdsStream, serve, type DiscoveryNode, type DiscoveryRequest, type DiscoveryResponse, type ServedKind, type StreamHost } from "./stream.js";
import { copyCounters, countReply, typeState, zeroCounters, type NodeState, type XdsStatus } from "./state.js";

/** Options of the ADS server. */
export interface AdsServerOptions {
  /** Where NACKs, stream errors and ignored requests are told; default: nowhere. */
  log?: (line: string) => void;
  /** Called when what status() says of the nodes changes (a node connects or disconnects, ACKs or NACKs). */
  onNodesChange?: () => void;
  /** How long a node with no stream is still reported (as disconnected, which drift shows after its grace)
   * before it is forgotten; default 1 h. Without it, every proxy ever seen (each pod of each rollout) stays. */
  forgetAfterMs?: number;
}

/** What is served: per kind, and the listeners of each rate-limited app's sidecars (its own inbound listener);
 * for pod sidecars (node metadata `runtime: k8s`) the same listener sets with the pod-only listeners added (DNS). */
interface Served {
  kinds: Record<ResourceKind, ServedKind>;
  listenersByApp: ReadonlyMap<string, ServedKind>;
  /** Null when there are no pod-only listeners: pods get what every sidecar gets. */
  podListeners: ServedKind | null;
  podListenersByApp: ReadonlyMap<string, ServedKind>;
  /** The listeners of VM host sidecars (one per host, every app of the host), by `<hostGroup>/<host>`. */
  listenersByHost: ReadonlyMap<string, ServedKind>;
}

function indexAll(r: MeshResources, before: Served | null): Served {
  const pod = r.podListeners ?? [];
  const withInbound = (inbound: MeshResource) => r.listener.map((l) => (l.name === inbound.name ? inbound : l));
  const withPod = (listeners: MeshResource[]) => [...listeners, ...pod].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const byApp = (wrap: (l: MeshResource[]) => MeshResource[], was: ReadonlyMap<string, ServedKind> | undefined) =>
    new Map([...r.inboundByApp].map(([app, inbound]) => [app, serve(wrap(withInbound(inbound)), was?.get(app) ?? null)]));
  const kind = (k: ResourceKind) => serve(r[k], before?.kinds[k] ?? null);
  return {
    kinds: { listener: kind("listener"), route: kind("route"), cluster: kind("cluster"), endpoint: kind("endpoint") },
    listenersByApp: byApp((l) => l, before?.listenersByApp),
    podListeners: pod.length > 0 ? serve(withPod(r.listener), before?.podListeners ?? null) : null,
    podListenersByApp: pod.length > 0 ? byApp(withPod, before?.podListenersByApp) : new Map(),
    listenersByHost: new Map([...(r.inboundByHost ?? [])].map(([host, inbound]) => [host, serve(withInbound(inbound), before?.listenersByHost.get(host) ?? null)])),
  };
}

/** Whether a node is a pod sidecar: its bootstrap's node metadata says `runtime: k8s` (runtimes/k8s/proxy.ts). */
function isPodNode(node: DiscoveryNode): boolean {
  return node.metadata?.fields?.["runtime"]?.stringValue === "k8s";
}

/** An xDS control plane serving one environment's mesh over ADS. */
export class AdsServer {
  private readonly grpcServer = new grpc.Server();
  private readonly streams = new Set<{ stream: AdsStream; call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>; sender: StreamSender<DiscoveryResponse> }>();
  private readonly nodes = new Map<string, NodeState>();
  private readonly counters = zeroCounters();
  private readonly log: (line: string) => void;
  private readonly changed: () => void;
  private readonly forgetAfterMs: number;
  private current = indexAll({ listener: [], route: [], cluster: [], endpoint: [], inboundByApp: new Map(), podListeners: [] }, null);
  private hasSnapshot = false;
  private encodedCache = new Map<string, Uint8Array>();
  /** Bytes of responses handed to grpc-js and not yet flushed, all streams together (see budget.ts). */
  private readonly budget = new SendBudget(SEND_BUDGET_BYTES);

  constructor(options: AdsServerOptions = {}) {
    this.log = options.log ?? (() => {});
    this.changed = options.onNodesChange ?? (() => {});
    this.forgetAfterMs = options.forgetAfterMs ?? 3_600_000;
    const pkg = grpc.loadPackageDefinition(adsPackageDefinition()) as any;
    const base = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService.service as grpc.ServiceDefinition;
    const sotw = base["StreamAggregatedResources"]!;
    const service: grpc.ServiceDefinition = {
      ...base,
      StreamAggregatedResources: { ...sotw, requestDeserialize: sharedNamesDeserializer(sotw.requestDeserialize), responseSerialize: sharedBodySerializer(sotw.responseSerialize) },
    };
    this.grpcServer.addService(service, { StreamAggregatedResources: (call: any) => this.onStream(call) });
  }

  /** Binds `host:port` (port 0: any free port) and returns the port bound. */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.grpcServer.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(new Error(`xds: cannot listen on ${address}: ${err.message}`));
        else resolve(port);
      });
    });
  }

  /** Serves a new snapshot: pushes to the streams whose resources changed. Until the first one, requests are held. */
  setSnapshot(snapshot: MeshSnapshot): void {
    this.setResources(buildResources(snapshot));
  }

  /** Serves new resources (as `buildResources` makes them). */
  setResources(resources: MeshResources): void {
    const causedAt = Date.now();
    this.current = indexAll(resources, this.current);
    this.hasSnapshot = true;
    this.counters.snapshots++;
    const extraListeners = [...resources.inboundByApp.values(), ...(resources.inboundByHost?.values() ?? []), ...(resources.podListeners ?? [])];
    const keep = new Set([...RESOURCE_KINDS.flatMap((k) => resources[k].map((r) => `${k}/${r.hash}`)), ...extraListeners.map((r) => `listener/${r.hash}`)]);
    for (const key of this.encodedCache.keys()) if (!keep.has(key)) this.encodedCache.delete(key);
    for (const { stream } of this.streams) stream.push(causedAt);
  }

  /** Connected proxies, their versions per type, and counters. */
  status(): XdsStatus {
    const now = Date.now();
    for (const [id, n] of this.nodes) if (n.streams === 0 && now - n.since > this.forgetAfterMs) this.nodes.delete(id);
    const nodes = [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((n) => structuredClone(n));
    return { streams: this.streams.size, nodes, counters: copyCounters(this.counters) };
  }

  /** Ends every stream and stops the server. */
  async close(): Promise<void> {
    for (const { call, sender } of this.streams) {
      sender.close();
      call.end();
    }
    this.streams.clear();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, 2000);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private onStream(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
    const sender = new StreamSender<DiscoveryResponse>(this.budget, (response, done) => call.write(response, () => done()));
    const entry = { stream: new AdsStream(this.hostFor(call, sender), call.getPeer()), call, sender };
    this.streams.add(entry);
    const gone = () => {
      sender.close();
      if (!this.streams.delete(entry)) return;
      const node = entry.stream.nodeId ? this.nodes.get(entry.stream.nodeId) : undefined;
      if (!node) return;
      if (--node.streams === 0) node.since = Date.now();
      this.changed();
    };
    call.on("data", (req: DiscoveryRequest) => entry.stream.request(req));
    call.on("end", () => {
      gone();
      call.end();
    });
    call.on("cancelled", gone);
    call.on("error", (err: Error) => {
      this.log(`xds ${entry.stream.nodeId ?? call.getPeer()}: stream error: ${err.message}`);
      gone();
    });
  }

  private hostFor(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>, sender: StreamSender<DiscoveryResponse>): StreamHost {
    let node: NodeState | null = null;
    // A sidecar (node id `sidecar~<env>~<app>~<instance>`) of an app with a rate limit gets that app's listeners;
    // a pod sidecar gets the pod-only listeners on top; a VM host's sidecar (`host~<env>~<group>~<host>`) gets the
    // inbound listener of every app on its host.
    let app: string | null = null;
    let host: string | null = null;
    let pod = false;
    const listeners = (): ServedKind => {
      const c = this.current;
      const forPod = pod ? ((app !== null ? c.podListenersByApp.get(app) : undefined) ?? c.podListeners) : null;
      return forPod ?? (app !== null ? c.listenersByApp.get(app) : host !== null ? c.listenersByHost.get(host) : undefined) ?? c.kinds.listener;
    };
    return {
      ready: () => this.hasSnapshot,
      served: (kind) => (kind === "listener" ? listeners() : this.current.kinds[kind]),
      encoded: (kind, r) => this.encode(kind, r),
      write: (kind, response) => {
        this.counters.pushes++;
        this.counters.byKind[kind].pushes++;
        sender.send(response, response.resources.reduce((n, r) => n + r.value.length + 8, 64));
      },
      onNode: (id, n) => {
        app = parseSidecarNode(id)?.app ?? null;
        const h = parseHostSidecarNode(id);
        host = h ? `${h.hostGroup}/${h.host}` : null;
        pod = isPodNode(n);
        node = this.nodes.get(id) ?? { id, streams: 0, since: 0, types: {} };
        if (node.streams++ === 0) node.since = Date.now();
        this.nodes.set(id, node);
        this.changed();
      },
      onSent: (kind, version) => {
        if (node) typeState(node, kind).sent = version;
      },
      onReply: (kind, reply) => {
        const t = node ? typeState(node, kind) : null;
        if (reply.error !== null) {
          countReply(this.counters, kind, { nack: true, latencyMs: null });
          if (t) Object.assign(t, { nacked: reply.version, error: reply.error });
          this.changed();
          return;
        }
        countReply(this.counters, kind, { nack: false, latencyMs: reply.causedAt === null ? null : Date.now() - reply.causedAt });
        if (t) Object.assign(t, { acked: reply.version }, t.nacked === reply.version ? {} : { nacked: null, error: null });
        this.changed();
      },
      log: this.log,
    };
  }

  private encode(kind: ResourceKind, r: MeshResource): Uint8Array {
    const key = `${kind}/${r.hash}`;
    let bytes = this.encodedCache.get(key);
    if (!bytes) {
      bytes = encodeResource(TYPE_URL[kind], r.body);
      this.encodedCache.set(key, bytes);
    }
    return bytes;
  }
}
