// The xDS control plane's metrics in the Prometheus text format (0.0.4), from AdsServer.status(), pure:
//   amphi_xds_connected_proxies{env}              gauge     node ids with an open ADS stream
//   amphi_xds_streams{env}                        gauge     ADS streams open (one proxy may hold several)
//   amphi_xds_proxies_nacking{env}                gauge     connected proxies whose last answer on a type is a NACK
//   amphi_xds_pushes_total{env,type}              counter   responses sent, by resource type
//   amphi_xds_acks_total{env,type}                counter   responses ACKed
//   amphi_xds_nacks_total{env,type}               counter   responses NACKed (the proxy kept its last good config)
//   amphi_xds_push_latency_seconds{env}           histogram change (snapshot) → ACK of the push it caused (a
//                                                           proxy's first connect is answered, not pushed: not in it)
//   amphi_xds_snapshots_total{env}                counter   snapshots served (registry or policy changes)
// `amphi xds --metrics-listen` serves it with /healthz (xdsProbeServer); `amphi serve` appends it to its /metrics.
import { createServer, type Server } from "node:http";
import { PUSH_LATENCY_BUCKETS_MS, type XdsStatus } from "../adapters/xds/index.js";
import { RESOURCE_KINDS } from "../mesh/index.js";
import { labels, metricFamily, num, type MetricType } from "./metrics.js";

/** The exposition text of one control plane's status. */
export function renderXdsMetrics(status: XdsStatus, env: string): string {
  const out: string[] = [];
  const family = (name: string, type: MetricType, help: string): void => metricFamily(out, name, type, help);
  const connected = status.nodes.filter((n) => n.streams > 0);
  const c = status.counters;
  family("amphi_xds_connected_proxies", "gauge", "Proxies (node ids) with an open ADS stream.");
  out.push(`amphi_xds_connected_proxies${labels({ env })} ${connected.length}`);
  family("amphi_xds_streams", "gauge", "ADS streams open.");
  out.push(`amphi_xds_streams${labels({ env })} ${status.streams}`);
  family("amphi_xds_proxies_nacking", "gauge", "Connected proxies whose last answer on some resource type is a NACK.");
  out.push(`amphi_xds_proxies_nacking${labels({ env })} ${connected.filter((n) => Object.values(n.types).some((t) => t?.nacked != null)).length}`);
  for (const [name, key, help] of [
    ["amphi_xds_pushes_total", "pushes", "xDS responses sent, by resource type."],
    ["amphi_xds_acks_total", "acks", "xDS responses ACKed, by resource type."],
    ["amphi_xds_nacks_total", "nacks", "xDS responses NACKed (the proxy keeps its last good config), by resource type."],
  ] as const) {
    family(name, "counter", help);
    for (const type of RESOURCE_KINDS) out.push(`${name}${labels({ env, type })} ${c.byKind[type][key]}`);
  }
  family("amphi_xds_push_latency_seconds", "histogram", "Time from a registry or policy change to the ACK of the push it caused.");
  PUSH_LATENCY_BUCKETS_MS.forEach((b, i) => out.push(`amphi_xds_push_latency_seconds_bucket${labels({ env, le: String(b / 1000) })} ${c.pushLatencyBuckets[i]}`));
  out.push(`amphi_xds_push_latency_seconds_bucket${labels({ env, le: "+Inf" })} ${c.pushAcks}`);
  out.push(`amphi_xds_push_latency_seconds_sum${labels({ env })} ${num(c.pushLatencyMsSum / 1000)}`, `amphi_xds_push_latency_seconds_count${labels({ env })} ${c.pushAcks}`);
  family("amphi_xds_snapshots_total", "counter", "Snapshots served (each registry or policy change makes one).");
  out.push(`amphi_xds_snapshots_total${labels({ env })} ${c.snapshots}`);
  return out.join("\n") + "\n";
}

/** GET /metrics (the text `render` gives) and GET /healthz (200 ok, or 503 with the reason `unhealthy` gives:
 * the registry not read yet, stopping); anything else 404. */
export function xdsProbeServer(render: () => string, unhealthy: () => string | null): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    if (path === "/metrics") return send(200, render(), "text/plain; version=0.0.4; charset=utf-8");
    if (path === "/healthz") {
      const reason = unhealthy();
      return reason === null ? send(200, "ok\n") : send(503, `${reason}\n`);
    }
    send(404, "not found\n");
  });
}
