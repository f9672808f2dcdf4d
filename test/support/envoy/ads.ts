// The Envoy test double's ADS client: one bidi stream `envoy.service.discovery.v3.AggregatedDiscoveryService`
// (state of the world) to the control plane of the bootstrap, as Envoy opens it: wildcard CDS and LDS, then EDS for
// the EDS clusters and RDS for the route configurations the HTTP connection managers name. Each response is
// checked against the subset the double implements (resources.ts) and applied whole, or NACKed (error_detail;
// the last good config stays). Listener and Cluster responses hold every resource (what is missing is removed);
// endpoint and route responses may hold only what changed. When the stream fails, the client reconnects with
// backoff and keeps serving its config.
import * as grpc from "@grpc/grpc-js";
import { adsService, decodeResource } from "./protos.js";
import { resourceProblems, T } from "./resources.js";
import { log } from "./log.js";

/** What the client does with accepted resources. */
export interface AdsSink {
  /** Applies a whole type's resources (for EDS/RDS: all resources now held); a thrown Error is a NACK. */
  apply(typeUrl: string, resources: ReadonlyMap<string, Record<string, unknown>>, version: string): Promise<void>;
  /** Names to subscribe to for EDS and RDS, derived from the held clusters and listeners. */
  namesFor(typeUrl: string): string[];
}

interface TypeState {
  version: string;
  nonce: string;
  names: string[];
  held: Map<string, Record<string, unknown>>;
  requested: boolean;
}

const ORDER = [T.cluster, T.endpoint, T.listener, T.route];

/** The ADS stream of one double. */
export class AdsClient {
  private readonly types = new Map<string, TypeState>(ORDER.map((t) => [t, { version: "", nonce: "", names: [], held: new Map(), requested: false }]));
  private client: grpc.Client | null = null;
  private call: grpc.ClientDuplexStream<any, any> | null = null;
  private queue: Promise<void> = Promise.resolve();
  private backoffMs = 250;
  private closed = false;
  private sentNode = false;
  private retryTimer: NodeJS.Timeout | null = null;
  acks = 0;
  nacks = 0;

  constructor(
    private readonly target: string,
    private readonly node: { id: string; cluster: string; metadata: Record<string, unknown> },
    private readonly sink: AdsSink,
  ) {}

  /** Opens the stream (and reopens it whenever it ends, until close). */
  start(): void {
    const Ctor = grpc.makeGenericClientConstructor(adsService(), "AggregatedDiscoveryService");
    this.client = new Ctor(this.target, grpc.credentials.createInsecure());
    this.open();
  }

  /** Version last accepted, per type URL. */
  versions(): Record<string, string> {
    return Object.fromEntries([...this.types].map(([t, s]) => [t, s.version]));
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.call?.cancel();
    this.client?.close();
  }

  private open(): void {
    if (this.closed) return;
    this.sentNode = false;
    const call = (this.client as any).StreamAggregatedResources() as grpc.ClientDuplexStream<any, any>;
    this.call = call;
    let ended = false;
    const down = (why: string) => {
      if (ended || this.closed) return;
      ended = true;
      log("warning", "config", `ADS stream to ${this.target} closed: ${why}; retrying in ${this.backoffMs} ms`);
      this.retryTimer = setTimeout(() => this.open(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 4000);
    };
    call.on("data", (r: any) => {
      this.backoffMs = 250;
      this.queue = this.queue.then(() => this.onResponse(r)).catch((e) => log("error", "config", `ADS: ${(e as Error).message}`));
    });
    call.on("error", (e: grpc.ServiceError) => down(e.details || e.message));
    call.on("end", () => down("stream ended"));
    for (const s of this.types.values()) s.nonce = "";
    // Wildcard CDS and LDS; EDS and RDS resubscribe by name (keeping the versions held, as Envoy does).
    this.request(T.cluster, []);
    this.request(T.listener, []);
    for (const t of [T.endpoint, T.route]) {
      const s = this.types.get(t)!;
      if (s.requested) this.request(t, s.names);
    }
  }

  private request(typeUrl: string, names: string[], error?: string): void {
    const s = this.types.get(typeUrl)!;
    s.requested = true;
    s.names = names;
    const req: Record<string, unknown> = { type_url: typeUrl, resource_names: names, version_info: s.version, response_nonce: s.nonce };
    if (!this.sentNode) {
      req["node"] = { id: this.node.id, cluster: this.node.cluster, metadata: struct(this.node.metadata), user_agent_name: "envoy-test-double" };
      this.sentNode = true;
    }
    if (error) req["error_detail"] = { code: 13, message: error };
    this.call?.write(req);
  }

  private async onResponse(r: any): Promise<void> {
    const typeUrl = String(r.type_url);
    const s = this.types.get(typeUrl);
    if (!s) {
      log("warning", "config", `ADS: response of unsubscribed type ${typeUrl} ignored`);
      return;
    }
    s.nonce = String(r.nonce ?? "");
    const decoded = new Map<string, Record<string, unknown>>();
    const problems: string[] = [];
    for (const any of r.resources ?? []) {
      if (any.type_url !== typeUrl) {
        problems.push(`resource of type ${any.type_url} in a ${typeUrl} response`);
        continue;
      }
      const body = decodeResource(typeUrl, any.value);
      const name = String(body["name"] ?? body["cluster_name"] ?? "");
      problems.push(...resourceProblems(typeUrl, body, name));
      decoded.set(name, body);
    }
    const full = typeUrl === T.cluster || typeUrl === T.listener;
    const next = full ? decoded : new Map([...s.held, ...decoded]);
    if (problems.length === 0) {
      try {
        await this.sink.apply(typeUrl, next, String(r.version_info));
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    if (problems.length > 0) {
      this.nacks++;
      const message = problems.join("; ");
      log("warning", "config", `${short(typeUrl)} update rejected (version ${r.version_info}): ${message}`);
      this.request(typeUrl, s.names, message);
      return;
    }
    s.held = next;
    s.version = String(r.version_info);
    this.acks++;
    log("info", "config", `${short(typeUrl)}: ${decoded.size} resource(s) accepted, version ${s.version}`);
    // Subscribe to what the new clusters/listeners need before acknowledging them, as Envoy does.
    const dependent = typeUrl === T.cluster ? T.endpoint : typeUrl === T.listener ? T.route : null;
    if (dependent) this.resubscribe(dependent);
    this.request(typeUrl, s.names);
  }

  private resubscribe(typeUrl: string): void {
    const s = this.types.get(typeUrl)!;
    const names = this.sink.namesFor(typeUrl);
    const same = s.requested && names.length === s.names.length && names.every((n, i) => n === s.names[i]);
    // What is no longer named is no longer held.
    for (const n of [...s.held.keys()]) if (!names.includes(n)) s.held.delete(n);
    if (!same && (names.length > 0 || s.requested)) this.request(typeUrl, names);
  }
}

function short(typeUrl: string): string {
  return typeUrl === T.cluster ? "cds" : typeUrl === T.endpoint ? "eds" : typeUrl === T.listener ? "lds" : "rds";
}

/** The bootstrap's node metadata as a google.protobuf.Struct the way proto-loader encodes one (protobufjs'
 * bundled descriptor names Value's members in camelCase). */
function struct(metadata: Record<string, unknown>): { fields: Record<string, unknown> } {
  const value = (v: unknown): unknown => {
    if (v === null || v === undefined) return { nullValue: 0 };
    if (typeof v === "string") return { stringValue: v };
    if (typeof v === "number") return { numberValue: v };
    if (typeof v === "boolean") return { boolValue: v };
    if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
    return { structValue: struct(v as Record<string, unknown>) };
  };
  return { fields: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, value(v)])) };
}
