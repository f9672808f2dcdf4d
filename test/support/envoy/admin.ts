// The admin interface of the Envoy test double, on the bootstrap's admin address, with Envoy's paths:
// GET /ready (200 `LIVE` once initialized, else 503 and the state), /server_info, /config_dump (what it holds,
// with versions), /listeners (bound addresses), /clusters (hosts and their outlier state); POST /drain_listeners
// and /quitquitquit (mutating paths answer GET with 405, as Envoy does).
import http from "node:http";
import type { DoubleServer } from "./proxy.js";
import type { AdsClient } from "./ads.js";
import type { DoubleBootstrap } from "./bootstrap.js";

/** What the admin interface reports and acts on. */
export interface AdminContext {
  server: DoubleServer;
  ads: () => AdsClient | null;
  bootstrap: DoubleBootstrap;
  version: string;
  startedAt: number;
  commandLine: Record<string, unknown>;
  quit: () => void;
}

const MUTATING = new Set(["/drain_listeners", "/quitquitquit"]);

/** Starts the admin server; resolves with its port. */
export function startAdmin(ctx: AdminContext): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const send = (status: number, body: string, type = "text/plain") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-cache, max-age=0" });
      res.end(body);
    };
    if (MUTATING.has(path) && req.method !== "POST") return send(405, "This endpoint requires POST\n");
    switch (path) {
      case "/ready":
        return send(ctx.server.state === "LIVE" ? 200 : 503, `${ctx.server.state}\n`);
      case "/server_info":
        return send(200, JSON.stringify(serverInfo(ctx), null, 2), "application/json");
      case "/config_dump":
        return send(200, JSON.stringify(configDump(ctx), null, 2), "application/json");
      case "/listeners":
        return send(200, JSON.stringify({ listener_statuses: Object.entries(ctx.server.listeners.addresses()).map(([name, a]) => ({ name, local_address: socketAddress(a) })) }, null, 2), "application/json");
      case "/clusters":
        return send(200, clusters(ctx));
      case "/drain_listeners":
        ctx.server.drainListeners();
        return send(200, "OK\n");
      case "/quitquitquit":
        send(200, "OK\n");
        return void setImmediate(ctx.quit);
      default:
        return send(404, `envoy test double: no admin path ${path}\n`);
    }
  });
  const { address, port } = ctx.bootstrap.admin;
  return new Promise((resolve, reject) => {
    server.once("error", (e) => reject(new Error(`cannot bind the admin address ${address}:${port}: ${e.message}`)));
    server.listen({ host: address, port, exclusive: true }, () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

function serverInfo(ctx: AdminContext): Record<string, unknown> {
  return {
    version: ctx.version,
    state: ctx.server.state,
    uptime_current_epoch: `${Math.floor((Date.now() - ctx.startedAt) / 1000)}s`,
    command_line_options: ctx.commandLine,
    node: ctx.bootstrap.node,
    envoy_test_double: true,
  };
}

function configDump(ctx: AdminContext): Record<string, unknown> {
  const versions = ctx.ads()?.versions() ?? {};
  const h = ctx.server.held;
  const v = (url: string) => versions[url] ?? "";
  return {
    configs: [
      { "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", bootstrap: ctx.bootstrap.raw },
      {
        "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
        version_info: v("type.googleapis.com/envoy.config.cluster.v3.Cluster"),
        dynamic_active_clusters: [...h.cluster.values()].map((x) => ({ version_info: x.version, cluster: x.body, last_updated: x.at })),
      },
      {
        "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
        version_info: v("type.googleapis.com/envoy.config.listener.v3.Listener"),
        dynamic_listeners: [...h.listener].map(([name, x]) => ({ name, active_state: { version_info: x.version, listener: x.body, last_updated: x.at } })),
      },
      {
        "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
        dynamic_route_configs: [...h.route.values()].map((x) => ({ version_info: x.version, route_config: x.body, last_updated: x.at })),
      },
      {
        "@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
        dynamic_endpoint_configs: [...h.endpoint.values()].map((x) => ({ version_info: x.version, endpoint_config: x.body, last_updated: x.at })),
      },
    ],
  };
}

/** Envoy's text format: `<cluster>::<host:port>::health_flags::healthy` (or `/failed_outlier_check`), and the
 * cluster's overflow count (`<cluster>::upstream_rq_pending_overflow::<n>`). */
function clusters(ctx: AdminContext): string {
  const now = Date.now();
  const lines: string[] = [];
  for (const c of ctx.server.clusters.values()) {
    lines.push(`${c.name}::upstream_rq_pending_overflow::${c.overflows}`);
    for (const hst of c.hosts) lines.push(`${c.name}::${hst.address}:${hst.port}::health_flags::${hst.ejectedUntil > now ? "/failed_outlier_check" : "healthy"}`);
  }
  return lines.join("\n") + "\n";
}

function socketAddress(a: string): Record<string, unknown> {
  const i = a.lastIndexOf(":");
  return { socket_address: { address: a.slice(0, i), port_value: Number(a.slice(i + 1)) } };
}
