// A bare ADS client for protocol tests: sends DiscoveryRequests as written, and reads the responses one by one
// (resources decoded with the Envoy protos), so tests can ACK, NACK, send stale nonces and see what is pushed.
import * as grpc from "@grpc/grpc-js";
import { adsPackageDefinition, envoyRoot } from "../../../src/adapters/xds/protos.js";

/** A DiscoveryResponse with its resources decoded to JSON. */
export interface RawResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: Record<string, any>[];
}

/** One ADS stream to `127.0.0.1:<port>`. */
export class RawAds {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<any, any>;
  private readonly queue: RawResponse[] = [];
  private waiter: (() => void) | null = null;
  ended = false;

  /** `metadata`: the node's metadata (string values), sent with every request like the node id. */
  constructor(port: number, readonly nodeId: string, private readonly metadata: Record<string, string> = {}) {
    const pkg = grpc.loadPackageDefinition(adsPackageDefinition()) as any;
    const Ctor = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
    this.client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.call = (this.client as any).StreamAggregatedResources();
    this.call.on("data", (r: any) => {
      this.queue.push({ ...r, resources: (r.resources ?? []).map((a: any) => decode(a.type_url, a.value)) });
      this.waiter?.();
    });
    this.call.on("error", () => {});
    this.call.on("end", () => {
      this.ended = true;
      this.waiter?.();
    });
  }

  /** Sends a request (node id added). */
  send(typeUrl: string, names: string[], ack?: { version: string; nonce: string; error?: string }): void {
    this.call.write({
      node: { id: this.nodeId, metadata: { fields: Object.fromEntries(Object.entries(this.metadata).map(([k, v]) => [k, { stringValue: v }])) } },
      type_url: typeUrl,
      resource_names: names,
      version_info: ack?.version ?? "",
      response_nonce: ack?.nonce ?? "",
      ...(ack?.error ? { error_detail: { code: 3, message: ack.error } } : {}),
    });
  }

  /** The next response, or an error after `ms`. */
  async next(ms = 5000): Promise<RawResponse> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      if (this.ended) throw new Error(`${this.nodeId}: stream ended`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.nodeId}: no response within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.queue.shift()!;
  }

  /** Responses that arrived within `ms` (none expected, usually). */
  async drain(ms: number): Promise<RawResponse[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

function decode(typeUrl: string, value: Uint8Array): Record<string, any> {
  const type = envoyRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf("/") + 1));
  return type.toObject(type.decode(value), { longs: Number, enums: String, json: true });
}
