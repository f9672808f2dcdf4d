// The JSON format of a drift report: a stable, documented shape for dashboards and other tools.
import type { DriftItem, DriftReport, DriftRow } from "./model.js";

/**
 * Formats a drift report as JSON (2-space indent, trailing newline). Keys always appear in this order:
 *
 * ```jsonc
 * {
 *   "apiVersion": "amphi.dev/v1",
 *   "kind": "DriftReport",
 *   "env": "prod",
 *   "revision": "3f1a…" | null,              // config commit the desired state was rendered from
 *   "generatedAt": "2026-01-02T03:04:05.000Z",
 *   "summary": {
 *     "apps": 4, "targets": 5,               // distinct app and target names in the rows
 *     "inSync": 3, "drifted": 5, "unknown": 1, // rows; drifted counts drifted, missing and unexpected
 *     "coverage": 87.5                       // % of rows whose actual state could be read completely
 *   },
 *   "rows": [{                               // by app (host rules last), runtime, target
 *     "app": "billing" | null,               // null: the host's own rules (capture)
 *     "runtime": "k8s" | "vm",               // cluster, or host (its Consul registrations folded in)
 *     "target": "eu1" | "legacy/vm-2",
 *     "status": "in-sync" | "drifted" | "missing" | "unexpected" | "unknown",
 *     "health": "healthy" | "progressing" | "missing" | "degraded" | "unknown",
 *     "healthDetail": "Deployment/shop/user: 3/3 available", // names the check that decided (VMs: process, HTTP health via Consul)
 *     "version": "1.4.2" | null,             // what the target runs (image tag / amphi.dev/version, host instance); null: nothing seen
 *     "items": [{                            // by kind (unreachable, missing, unexpected, field, process, registry, proxy), object
 *       "kind": "field",
 *       "object": "Deployment/shop/user",    // Kind/ns/name, the app (vm), "iptables", service/id (registry)
 *       "detail": "spec.replicas 2→3",       // one line; values shortened; secrets read "(secret)"
 *       "registry": "missing",               // registry items only: missing | unexpected | address | port | version | critical | warning
 *       "proxy": "nacked"                    // proxy items only (object: the xDS node id): nacked | disconnected
 *     }]
 *   }]
 * }
 * ```
 */
export function formatDriftJson(report: DriftReport): string {
  const doc = {
    apiVersion: report.apiVersion,
    kind: report.kind,
    env: report.env,
    revision: report.revision,
    generatedAt: report.generatedAt,
    summary: {
      apps: report.summary.apps,
      targets: report.summary.targets,
      inSync: report.summary.inSync,
      drifted: report.summary.drifted,
      unknown: report.summary.unknown,
      coverage: report.summary.coverage,
    },
    rows: report.rows.map(rowJson),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function rowJson(r: DriftRow) {
  const { app, runtime, target, status, health, healthDetail, version } = r;
  return { app, runtime, target, status, health, healthDetail, version, items: r.items.map(itemJson) };
}

function itemJson(i: DriftItem): DriftItem {
  const out: DriftItem = { kind: i.kind, object: i.object, detail: i.detail };
  if (i.registry !== undefined) out.registry = i.registry;
  if (i.proxy !== undefined) out.proxy = i.proxy;
  return out;
}
