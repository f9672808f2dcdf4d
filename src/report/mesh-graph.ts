// The mesh graph as SVG: a MeshGraphInput (mesh-graph-data.ts: apps as nodes, `dependsOn` as edges with the
// callee's traffic policy, health as colour) in, one self-contained <svg> (or an HTML <section> around it) out.
// Laid out by dagre (mesh-graph-layout.ts); every coordinate, colour and tooltip is written here, no script, no
// external asset, every piece of text escaped. Same input, same bytes.
import { compareStrings } from "../model/index.js";
import { instances, layoutMeshGraph, type PlacedEdge, type PlacedNode, type TextLine } from "./mesh-graph-layout.js";
import { NODE_STATES, type MeshGraphInput, type NodeState } from "./mesh-graph-data.js";

export { meshGraphInput, NODE_STATES, type InstanceCount, type MeshGraphEdge, type MeshGraphInput, type MeshGraphLive, type MeshGraphNode, type NodeState } from "./mesh-graph-data.js";

/** Fill and border of a node per state: green, grey (unknown: neither good nor bad), yellow, red. */
export const STATE_COLOURS: Record<NodeState, { fill: string; stroke: string }> = {
  passing: { fill: "#dafbe1", stroke: "#1a7f37" },
  unknown: { fill: "#eaeef2", stroke: "#6e7781" },
  warning: { fill: "#fff8c5", stroke: "#9a6700" },
  critical: { fill: "#ffebe9", stroke: "#cf222e" },
};

const EDGE_COLOUR = "#6e7781";
const FONT = `font-family="system-ui,-apple-system,'Segoe UI',sans-serif"`;

/** The graph as one `<svg>` element (no XML prolog: it is meant to sit inside an HTML page). Nodes carry
 * `data-service` (the app), `data-state`, `data-vm`, `data-pods`; edges `data-from`, `data-to`; both a
 * `<title>` tooltip; an edge's policy label is a separate `mg-edge-label` group (`data-label-from`, `data-label-to`)
 * drawn above all edges. Ids (the arrowhead marker) are prefixed with the environment, so graphs of several
 * environments can share a page. The layout of the same config is reused (see layoutMeshGraph; `cache: false`
 * lays it out afresh). */
export function meshGraphSvg(input: MeshGraphInput, opts: { cache?: boolean } = {}): string {
  const layout = layoutMeshGraph(input, opts);
  const marker = `mg-arrow-${input.env.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const w = Math.ceil(layout.width);
  const h = Math.ceil(layout.height);
  const title = `mesh graph of ${input.env}: ${count(input.nodes.length, "service")}, ${count(input.edges.length, "dependency", "dependencies")}`;
  const nodes = [...layout.nodes].sort((a, b) => compareStrings(a.node.app, b.node.app));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="mesh-graph" data-env="${esc(input.env)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" ${FONT} font-size="12" role="img" aria-label="${esc(title)}">`,
    `<title>${esc(title)}</title>`,
    `<defs><marker id="${marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="${EDGE_COLOUR}"/></marker></defs>`,
    '<g class="mg-edges">',
    ...layout.edges.map((e) => edge(e, marker, input.controlPlane)),
    "</g>",
    '<g class="mg-edge-labels">',
    ...layout.edges.filter((e) => e.label).map((e) => label(e, input.controlPlane)),
    "</g>",
    '<g class="mg-nodes">',
    ...nodes.map(node),
    "</g>",
    "</svg>",
  ].join("\n");
}

/** The graph as an HTML `<section>` for a page or report: a heading, a one-line summary with the colour
 * legend, and the SVG in a box that scrolls when the graph is larger than the page. */
export function meshGraphSection(input: MeshGraphInput): string {
  const source = input.live ? "health from live data" : "config only: no live data, every node grey";
  const policy = input.edges.some((e) => e.policy.length > 0) && !input.controlPlane ? " · traffic policy shown as configured; no mesh.controlPlane applies it" : "";
  const body = input.nodes.length === 0 ? `<p class="muted">No apps are placed in ${esc(input.env)}.</p>` : `<div class="mesh-graph-box" style="overflow:auto;max-height:85vh;border:1px solid #d1d9e0;border-radius:6px">\n${meshGraphSvg(input)}\n</div>`;
  return [
    '<section class="mesh-graph-section">',
    "<h2>Mesh graph</h2>",
    `<p class="muted">${count(input.nodes.length, "service")} · ${count(input.edges.length, "dependency", "dependencies")} (an arrow points from the caller to what it depends on) · ${esc(source)}${esc(policy)} ${legend()}</p>`,
    body,
    "</section>",
  ].join("\n");
}

function node(p: PlacedNode): string {
  const n = p.node;
  const c = STATE_COLOURS[n.state];
  const attrs = `data-service="${esc(n.app)}" data-state="${n.state}" data-placed="${n.placed}" data-vm="${n.vm.count}" data-pods="${n.pods.count}"`;
  const dash = n.placed ? "" : ' stroke-dasharray="5 3"';
  return [
    `<g class="mg-node" ${attrs}>`,
    `<title>${esc(nodeTitle(p))}</title>`,
    `<rect x="${num(p.x)}" y="${num(p.y)}" width="${num(p.width)}" height="${num(p.height)}" rx="6" fill="${n.placed ? c.fill : "#ffffff"}" stroke="${c.stroke}" stroke-width="${n.state === "passing" || n.state === "unknown" ? 1.5 : 2.5}"${dash}/>`,
    ...p.lines.map(text),
    "</g>",
  ].join("");
}

function nodeTitle(p: PlacedNode): string {
  const n = p.node;
  const count = (c: { count: number; source: string }, what: string) => `${what}: ${c.count} ${c.source === "registered" ? "registered" : "desired (registry not read)"}`;
  return [
    `${n.app} — ${n.state}${n.placed ? "" : " (not placed in this environment)"}`,
    ...n.services.map((s) => `service ${s.name}: ${s.ports.join(", ")}`),
    `${instances(n)} (${count(n.vm, "VM instances")}; ${count(n.pods, "pods")})`,
    ...n.reasons,
    ...n.policy.map((l) => `policy: ${l}`),
  ].join("\n");
}

function edge(p: PlacedEdge, marker: string, controlPlane: boolean): string {
  const e = p.edge;
  return `<g class="mg-edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}"><title>${esc(edgeTitle(p, controlPlane))}</title><path d="${curve(p.points)}" fill="none" stroke="${EDGE_COLOUR}" stroke-width="1.4" marker-end="url(#${marker})"/></g>`;
}

// Labels are drawn after every edge, so no later edge's line runs across a label.
function label(p: PlacedEdge, controlPlane: boolean): string {
  const l = p.label!;
  const e = p.edge;
  const box = `<rect x="${num(l.x)}" y="${num(l.y)}" width="${num(l.width)}" height="${num(l.height)}" rx="3" fill="#ffffff" fill-opacity="0.92" stroke="#d1d9e0"/>`;
  return `<g class="mg-edge-label" data-label-from="${esc(e.from)}" data-label-to="${esc(e.to)}"><title>${esc(edgeTitle(p, controlPlane))}</title>${box}${l.lines.map(text).join("")}</g>`;
}

function edgeTitle(p: PlacedEdge, controlPlane: boolean): string {
  const e = p.edge;
  return [`${e.from} → ${e.to} (dependsOn)`, ...e.detail, ...(e.detail.length > 0 && !controlPlane ? ["not applied: the environment has no mesh.controlPlane"] : [])].join("\n");
}

/** A smooth path through dagre's points: straight to the first, quadratic curves bent at each inner point and
 * ending half-way to the next, straight into the last (where the arrowhead sits). */
function curve(points: readonly { x: number; y: number }[]): string {
  const pt = (q: { x: number; y: number }) => `${num(q.x)},${num(q.y)}`;
  if (points.length < 3) return points.map((q, i) => `${i === 0 ? "M" : "L"}${pt(q)}`).join("");
  const out = [`M${pt(points[0]!)}`];
  for (let i = 1; i < points.length - 1; i++) {
    const next = i === points.length - 2 ? points[i + 1]! : { x: (points[i]!.x + points[i + 1]!.x) / 2, y: (points[i]!.y + points[i + 1]!.y) / 2 };
    out.push(`Q${pt(points[i]!)} ${pt(next)}`);
  }
  return out.join("");
}

function text(l: TextLine): string {
  const style = l.kind === "title" ? ' font-weight="600" font-size="13"' : l.kind === "policy" ? ' font-size="11" fill="#424a53"' : "";
  return `<text x="${num(l.x)}" y="${num(l.y)}"${style}>${esc(l.text)}</text>`;
}

function legend(): string {
  const items = NODE_STATES.map((s, i) => {
    const c = STATE_COLOURS[s];
    return `<rect x="${i * 78}" y="1" width="12" height="12" rx="2" fill="${c.fill}" stroke="${c.stroke}"/><text x="${i * 78 + 16}" y="11">${s}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" class="mesh-graph-legend" width="${NODE_STATES.length * 78}" height="14" ${FONT} font-size="11" role="img" aria-label="node colours">${items.join("")}</svg>`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

// One decimal at most: stable text for the same layout, and small files.
function num(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** Escapes text for XML element content and quoted attribute values. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]!);
}

const XML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
