// The drift report of one environment: per app × target, whether the live state matches the config
// (status), how healthy it is (health), and the items that differ. Plain data; the JSON format is this shape.
import type { Runtime } from "../model/index.js";
import type { Health } from "../health/index.js";
import type { RegistryDriftKind } from "../health/registry.js";

/** Sync status of one app on one target, from best to worst for sorting and colouring:
 * `in-sync` (nothing differs), `drifted` (some fields, processes or registrations differ), `missing`
 * (nothing of it exists there yet), `unexpected` (it exists there but is not in the config), `unknown`
 * (its target could not be read and nothing else is known to differ). */
export const ROW_STATUSES = ["in-sync", "drifted", "missing", "unexpected", "unknown"] as const;
/** One sync status. */
export type RowStatus = (typeof ROW_STATUSES)[number];

/** Kinds of drift items, in the order a row lists them. */
export const ITEM_KINDS = ["unreachable", "missing", "unexpected", "field", "process", "registry", "proxy"] as const;
/** One kind of drift item. */
export type ItemKind = (typeof ITEM_KINDS)[number];

/** One thing that differs. `object` names it inside its target (`Deployment/shop/user`, the app on a host,
 * `iptables`, a Consul service `service/id`); `detail` is one line (values shortened, secrets `(secret)`). */
export interface DriftItem {
  kind: ItemKind;
  object: string;
  detail: string;
  /** Registry items only: what Consul has wrong (missing, unexpected, address, port, critical, warning). */
  registry?: RegistryDriftKind;
  /** Proxy items only (the mesh's control plane saw it): the proxy NACKed its config, or it was connected and
   * is not any more (longer than the grace period). */
  proxy?: ProxyDriftKind;
}

/** What is wrong with a proxy of the mesh. */
export type ProxyDriftKind = "nacked" | "disconnected";

/** One app on one target. `app` is null for a host's own rules (capture); `runtime` is the runtime whose row
 * holds the app's resources there (each runtime's report hooks name it): `k8s` for a cluster, `vm` for a host
 * (`<hostGroup>/<host>`), whose capture rules and Consul registrations are folded in. */
export interface DriftRow {
  app: string | null;
  runtime: Runtime;
  target: string;
  status: RowStatus;
  health: Health;
  /** Why the health is what it is, one line (`2/3 updated, 1 ready, 1 available`). */
  healthDetail: string;
  /** The version the target runs (its live workload: a Deployment's `amphi.dev/version` or image tag, a host
   * instance's version), several joined by ", ", or null when nothing there names one (missing, unreadable). */
  version: string | null;
  items: DriftItem[];
}

/** Counts over all rows. `apps` and `targets` are distinct names; `drifted` counts rows that are drifted,
 * missing or unexpected; `coverage` is the share of rows (app × target pairs) whose actual state could be
 * read completely, as a percentage with one decimal (100 when there are no rows). */
export interface DriftSummary {
  apps: number;
  targets: number;
  inSync: number;
  drifted: number;
  unknown: number;
  coverage: number;
}

/** The whole report. Rows are sorted by app (host rules last), then runtime (k8s first), then target. */
export interface DriftReport {
  apiVersion: "amphi.dev/v1";
  kind: "DriftReport";
  env: string;
  revision: string | null;
  /** When the report was made (ISO 8601, from the injected clock). */
  generatedAt: string;
  summary: DriftSummary;
  rows: DriftRow[];
}
