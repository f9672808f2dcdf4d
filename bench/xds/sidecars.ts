// Simulated Envoy sidecars for bench/xds (its own process, so their work is not the control plane's): N ADS
// streams, one connection each, node ids `sidecar~<env>~<app>~s<i>`; each subscribes to wildcard LDS and CDS and
// to EDS by the names of every service cluster, and ACKs every response at once. Commands on stdin, one JSON line
// each; answers on stdout:
//   {"op":"ready"}                       → {"ready":n}: once every stream has ACKed EDS once
//   {"op":"arm","cluster":C,"expect":k}  → {"armed":true}: remembers each stream's EDS version; sampled streams
//                                           check that the next EDS response gives cluster C k endpoints
//   {"op":"collect","t0":ms,"timeoutMs":t} → {"ms":[…],"missing":m,"checked":c,"wrong":w}: per stream, the time from
//                                           t0 (epoch ms) to its ACK of the first EDS version after `arm`
// Usage (by bench/xds/run.ts): node --import tsx bench/xds/sidecars.ts PORT STREAMS ENV CLUSTERS_JSON
import * as readline from "node:readline";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { adsPackageDefinition, envoyRoot } from "../../src/adapters/xds/protos.js";
import { TYPE_URL } from "../../src/mesh/index.js";

const [port, streams, env, clustersJson] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]!, process.argv[5]!];
const clusters: { cluster: string; app: string }[] = JSON.parse(clustersJson);
const names = clusters.map((c) => c.cluster);
const now = () => performance.timeOrigin + performance.now();
const pkg = grpc.loadPackageDefinition(adsPackageDefinition()) as any;
// Requests naming every cluster are encoded with the names' bytes made once: the clients' work is not what is
// measured, and they share the 2 cores with the server.
const sotw = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService.service.StreamAggregatedResources;
const namesBytes = Buffer.from(envoyRoot().lookupType("envoy.service.discovery.v3.DiscoveryRequest").encode({ resource_names: names }).finish());
const serialize = (req: any): Buffer => (req.resource_names === names ? Buffer.concat([sotw.requestSerialize({ ...req, resource_names: [] }), namesBytes]) : sotw.requestSerialize(req));
// Responses are read for their version, type and nonce only (the resources' bytes are kept, decoded only by the
// sampled streams): an Envoy reads its responses at C++ speed, and a slow reader would make the server queue.
const AnyType = envoyRoot().lookupType("google.protobuf.Any");
const deserialize = (bytes: Buffer): any => {
  const r = protobuf.Reader.create(bytes);
  const out: { version_info: string; type_url: string; nonce: string; resources: Buffer[] } = { version_info: "", type_url: "", nonce: "", resources: [] };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) out.version_info = r.string();
    else if (field === 4) out.type_url = r.string();
    else if (field === 5) out.nonce = r.string();
    else if (field === 2) out.resources.push(Buffer.from(r.bytes()));
    else r.skipType(tag & 7);
  }
  return out;
};
const Ads = grpc.makeGenericClientConstructor({ StreamAggregatedResources: { ...sotw, requestSerialize: serialize, responseDeserialize: deserialize } }, "Ads") as any;
const CLA = envoyRoot().lookupType("envoy.config.endpoint.v3.ClusterLoadAssignment");

interface Sidecar {
  edsVersion: string | null;
  edsAckedAt: number;
  armedVersion: string | null;
  sampled: boolean;
}
const sidecars: Sidecar[] = [];
let armed: { cluster: string; expect: number } | null = null;
let checked = 0;
let wrong = 0;

for (let i = 0; i < streams; i++) {
  const app = clusters[i % clusters.length]!.app;
  const node = { id: `sidecar~${env}~${app}~s${i}` };
  const client = new Ads(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "grpc.max_receive_message_length": -1 });
  const call = client.StreamAggregatedResources();
  const me: Sidecar = { edsVersion: null, edsAckedAt: 0, armedVersion: null, sampled: i % 100 === 0 };
  sidecars.push(me);
  call.on("data", (r: any) => {
    const resourceNames = r.type_url === TYPE_URL.endpoint ? names : [];
    if (r.type_url === TYPE_URL.endpoint) {
      if (armed && me.sampled && me.edsVersion === me.armedVersion) {
        const cla = (r.resources as Buffer[]).map((b) => CLA.toObject(CLA.decode((AnyType.decode(b) as any).value))).find((x: any) => x.cluster_name === armed!.cluster);
        const n = cla ? (cla.endpoints ?? []).reduce((s: number, l: any) => s + (l.lb_endpoints?.length ?? 0), 0) : -1;
        checked++;
        if (n !== armed.expect) wrong++;
      }
      me.edsVersion = r.version_info;
      me.edsAckedAt = now();
    }
    call.write({ node, type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: resourceNames });
  });
  call.on("error", (e: Error) => process.stderr.write(`stream ${i}: ${e.message}\n`));
  call.write({ node, type_url: TYPE_URL.listener, resource_names: [] });
  call.write({ node, type_url: TYPE_URL.cluster, resource_names: [] });
  call.write({ node, type_url: TYPE_URL.endpoint, resource_names: names });
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(cmd: any): Promise<object> {
  if (cmd.op === "ready") {
    while (sidecars.some((s) => s.edsVersion === null)) await wait(50);
    return { ready: sidecars.length };
  }
  if (cmd.op === "arm") {
    for (const s of sidecars) s.armedVersion = s.edsVersion;
    armed = { cluster: cmd.cluster, expect: cmd.expect };
    checked = 0;
    wrong = 0;
    return { armed: true };
  }
  if (cmd.op === "collect") {
    const deadline = now() + cmd.timeoutMs;
    while (sidecars.some((s) => s.edsVersion === s.armedVersion) && now() < deadline) await wait(5);
    const done = sidecars.filter((s) => s.edsVersion !== s.armedVersion);
    armed = null;
    return { ms: done.map((s) => s.edsAckedAt - cmd.t0), missing: sidecars.length - done.length, checked, wrong };
  }
  return { error: `unknown op ${cmd.op}` };
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line);
  void run(cmd).then((out) => process.stdout.write(JSON.stringify({ id: cmd.id, ...out }) + "\n"));
}).on("close", () => process.exit(0));
