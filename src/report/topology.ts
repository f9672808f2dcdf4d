// The topology of an environment: its clusters with the apps in each namespace, its host groups with the
// instances on each host — each with the version it runs and its status — and, where a traffic split by
// version runs, the versions side by side with their weights and where each runs. The layout comes from the
// config (placements, traffic policy), what runs from the drift report's rows. Pure; HTML out.
import { compareStrings, type AppModel, type EnvironmentModel, type VersionWeight } from "../model/index.js";
import type { DriftReport, DriftRow } from "./model.js";
import { appLabel, escapeHtml } from "./html.js";

/** Where the config places the environment's apps. */
export interface TopologyLayout {
  clusters: { name: string; namespaces: { name: string; apps: string[] }[] }[];
  hostGroups: { name: string; hosts: { name: string; apps: string[] }[] }[];
  /** Services with a split by version, with the app that serves them. */
  splits: { service: string; app: string | null; weights: VersionWeight[] }[];
}

/** The layout of `env`: every cluster and host group (also those nothing is placed on), sorted by name. */
export function topologyLayout(env: EnvironmentModel, apps: readonly AppModel[]): TopologyLayout {
  const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort(compareStrings);
  const clusters = env.clusters.map((c) => {
    const byNs = new Map<string, string[]>();
    for (const p of env.placements) {
      if (p.type !== "cluster" || p.cluster !== c.name) continue;
      const list = byNs.get(p.namespace);
      if (list) list.push(p.app);
      else byNs.set(p.namespace, [p.app]);
    }
    return { name: c.name, namespaces: [...byNs].map(([name, list]) => ({ name, apps: sorted(list) })).sort((a, b) => compareStrings(a.name, b.name)) };
  });
  const hostGroups = env.hostGroups.map((g) => ({
    name: g.name,
    hosts: g.hosts.map((h) => ({ name: h.name, apps: sorted(env.placements.flatMap((p) => (p.type === "hostGroup" && p.hostGroup === g.name && p.hosts.includes(h.name) ? [p.app] : []))) })),
  }));
  const appOf = new Map(apps.flatMap((a) => a.services.map((s) => [s.name, a.name] as const)));
  const splits = env.traffic.filter((t) => t.split.length > 0).map((t) => ({ service: t.service, app: appOf.get(t.service) ?? null, weights: t.split }));
  const byName = <T extends { name: string }>(xs: T[]) => xs.sort((a, b) => compareStrings(a.name, b.name));
  return { clusters: byName(clusters), hostGroups: byName(hostGroups), splits };
}

/** The layout a report alone shows (no config at hand): clusters and hosts of its rows, no namespaces, no splits. */
export function layoutFromReport(report: DriftReport): TopologyLayout {
  const clusters = new Map<string, Set<string>>();
  const groups = new Map<string, Map<string, Set<string>>>();
  for (const r of report.rows) {
    if (r.app === null) continue;
    if (r.runtime === "k8s") clusters.set(r.target, (clusters.get(r.target) ?? new Set()).add(r.app));
    else if (r.runtime === "vm" && r.target.includes("/")) {
      const [g, h] = [r.target.slice(0, r.target.indexOf("/")), r.target.slice(r.target.indexOf("/") + 1)];
      const hosts = groups.get(g) ?? new Map<string, Set<string>>();
      groups.set(g, hosts.set(h, (hosts.get(h) ?? new Set()).add(r.app)));
    }
  }
  const names = <T>(m: Map<string, T>) => [...m.keys()].sort(compareStrings);
  return {
    clusters: names(clusters).map((name) => ({ name, namespaces: [{ name: "", apps: [...clusters.get(name)!].sort(compareStrings) }] })),
    hostGroups: names(groups).map((name) => ({ name, hosts: names(groups.get(name)!).map((h) => ({ name: h, apps: [...groups.get(name)!.get(h)!].sort(compareStrings) })) })),
    splits: [],
  };
}

/** The topology section. `keep`: the apps to show (the page's filter), or null for all. */
export function topologyHtml(layout: TopologyLayout, report: DriftReport | null, keep: ReadonlySet<string> | null = null): string {
  const rows = new Map<string, DriftRow>();
  for (const r of report?.rows ?? []) if (r.app !== null && r.runtime !== "mesh") rows.set(`${r.app}\u0000${r.target}`, r);
  const shown = (app: string) => keep === null || keep.has(app);
  const chip = (app: string, target: string) => {
    const r = rows.get(`${app}\u0000${target}`);
    const status = r?.status ?? "none";
    // No title: the matrix cell and the details say why; the topology is where things run (a 1,000-app page stays small).
    return `<li class="chip s-${status}${r ? ` h-${r.health}` : ""}" data-app="${escapeHtml(app)}" data-target="${escapeHtml(target)}">${escapeHtml(app)} <code>${escapeHtml(r?.version ?? "–")}</code></li>`;
  };
  const clusters = layout.clusters.map((c) => {
    const nss = c.namespaces.map((ns) => {
      const apps = ns.apps.filter(shown);
      return `<div class="ns"><h4>${ns.name ? `namespace ${escapeHtml(ns.name)}` : "apps"}</h4><ul class="chips">${apps.map((a) => chip(a, c.name)).join("")}</ul></div>`;
    });
    return `<div class="box" data-cluster="${escapeHtml(c.name)}"><h3>cluster ${escapeHtml(c.name)}</h3>${nss.join("") || '<p class="muted">nothing placed here</p>'}</div>`;
  });
  const groups = layout.hostGroups.map((g) => {
    const hosts = g.hosts.map((h) => {
      const target = `${g.name}/${h.name}`;
      const apps = h.apps.filter(shown);
      return `<div class="ns" data-host="${escapeHtml(target)}"><h4>host ${escapeHtml(h.name)}</h4><ul class="chips">${apps.map((a) => chip(a, target)).join("")}</ul></div>`;
    });
    return `<div class="box" data-host-group="${escapeHtml(g.name)}"><h3>host group ${escapeHtml(g.name)}</h3>${hosts.join("") || '<p class="muted">no hosts</p>'}</div>`;
  });
  return [
    `<div class="topo">${[...clusters, ...groups].join("\n") || '<p class="muted">no clusters or host groups</p>'}</div>`,
    splitsHtml(layout, report, shown),
  ].join("\n");
}

/** Services split by version: each version's weight and the targets that run it, side by side. */
function splitsHtml(layout: TopologyLayout, report: DriftReport | null, shown: (app: string) => boolean): string {
  const splits = layout.splits.filter((s) => s.app === null || shown(s.app));
  if (splits.length === 0) return "";
  const where = (app: string | null, version: string) =>
    (report?.rows ?? []).filter((r) => r.app !== null && r.app === app && r.runtime !== "mesh" && (r.version ?? "").split(", ").includes(version)).map((r) => r.target);
  const lines = splits.map((s) => {
    const parts = s.weights.map((w) => {
      const targets = where(s.app, w.version);
      return `<td class="split"><b>${escapeHtml(w.version)}</b> ${w.weight}%<br><span class="muted">${targets.length > 0 ? escapeHtml(targets.join(", ")) : "runs nowhere yet"}</span></td>`;
    });
    return `<tr data-service="${escapeHtml(s.service)}"><th scope="row">${escapeHtml(s.service)}${s.app !== null && s.app !== s.service ? ` <span class="muted">(${escapeHtml(appLabel(s.app))})</span>` : ""}</th>${parts.join("")}</tr>`;
  });
  return `<h3>Traffic splits by version</h3><table class="splits"><tbody>${lines.join("")}</tbody></table>`;
}

/** Style of the topology (added to the page's). */
export const TOPOLOGY_CSS = `
.topo{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.box{border:1px solid #d1d9e0;border-radius:6px;padding:8px 12px;min-width:16rem;max-width:40rem}
.box h3{margin:0 0 6px}.ns h4{font-size:13px;margin:6px 0 4px;color:#59636e}
ul.chips{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px}
.chip{border:1px solid #d1d9e0;border-radius:12px;padding:1px 8px 1px 12px;font-size:12px}
.s-none{background:#fff}
`.trim();
