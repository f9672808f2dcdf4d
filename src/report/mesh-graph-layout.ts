// Layout of the mesh graph: each connected part of the graph is laid out by dagre (left to right, boxes
// sized from their text), then the parts are packed in rows. Pure and deterministic: nodes and edges go in
// sorted, so the same graph gives the same coordinates.
//
// Why one dagre run per part: dagre's cost grows much faster than the graph (one run over 1,000 apps took
// seconds to minutes here, most of it ordering one huge rank); a fleet's graph is mostly many small parts
// (an app and what it calls), each of which dagre lays out in a moment.
import dagre from "@dagrejs/dagre";
import { compareStrings } from "../model/index.js";
import type { MeshGraphEdge, MeshGraphInput, MeshGraphNode } from "./mesh-graph-data.js";

/** One line of text inside a box; `x`, `y` are the baseline's start. */
export interface TextLine {
  text: string;
  x: number;
  y: number;
  kind: "title" | "body" | "count" | "policy";
}

/** A node with its box (top-left corner, size) and the lines written in it. */
export interface PlacedNode {
  node: MeshGraphNode;
  x: number;
  y: number;
  width: number;
  height: number;
  lines: TextLine[];
}

/** An edge with its path (dagre's points, from the caller's box to the callee's) and its label's box. */
export interface PlacedEdge {
  edge: MeshGraphEdge;
  points: { x: number; y: number }[];
  label: { x: number; y: number; width: number; height: number; lines: TextLine[] } | null;
}

/** The laid-out graph. */
export interface GraphLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

// Text metrics, estimated from character counts (no font is measured: the same input must give the same
// bytes on any machine). Generous for system-ui, so text stays inside its box.
const CHAR = { title: 8.2, body: 7.2, count: 7.2, policy: 6.6 } as const;
// The instance counts change while the config does not: their line is sized for up to `999 VM · 999 pods`, so
// the layout (and its cache entry) stays the same as instances come and go.
const COUNT_CHARS = "999 VM · 999 pods".length;
const LINE = 16;
const PAD = 10;
const LABEL_LINE = 14;
const GAP = 32;

/** Lays out the graph (see the file comment). The last few layouts are kept, keyed by what decides the
 * geometry (nodes' text but for their counts, edges and their labels): a page re-drawn with new health or
 * counts on the same config reuses the layout and only re-binds the nodes and edges. `cache: false` lays out
 * afresh and keeps nothing. */
export function layoutMeshGraph(input: MeshGraphInput, opts: { cache?: boolean } = {}): GraphLayout {
  if (opts.cache === false) return pack(components(input).map((p) => layoutPart(p.nodes, p.edges)));
  const key = layoutKey(input);
  const hit = CACHE.get(key);
  if (hit) {
    CACHE.delete(key);
    CACHE.set(key, hit);
    return rebind(hit, input);
  }
  const layout = pack(components(input).map((p) => layoutPart(p.nodes, p.edges)));
  CACHE.set(key, layout);
  if (CACHE.size > CACHE_SIZE) CACHE.delete(CACHE.keys().next().value!);
  return layout;
}

/** How many layouts {@link layoutMeshGraph} keeps (least recently used dropped first): a few environments. */
export const CACHE_SIZE = 8;
const CACHE = new Map<string, GraphLayout>();

function layoutKey(input: MeshGraphInput): string {
  const nodes = input.nodes.map((n) => [n.app, nodeText(n).map((l) => (l.kind === "count" ? Math.max(COUNT_CHARS, l.text.length) : l.text))]);
  return JSON.stringify([nodes, input.edges.map((e) => [e.from, e.to, e.policy])]);
}

// Same key, so the same apps with the same lines in the same places and the same edges: only texts of counts,
// states, reasons and tooltips differ.
function rebind(layout: GraphLayout, input: MeshGraphInput): GraphLayout {
  const nodes = new Map(input.nodes.map((n) => [n.app, n]));
  const edges = new Map(input.edges.map((e) => [`${e.from}\u0000${e.to}`, e]));
  return {
    ...layout,
    nodes: layout.nodes.map((p) => {
      const node = nodes.get(p.node.app)!;
      const text = nodeText(node);
      return { ...p, node, lines: p.lines.map((l, i) => ({ ...l, text: text[i]!.text })) };
    }),
    edges: layout.edges.map((p) => ({ ...p, edge: edges.get(`${p.edge.from}\u0000${p.edge.to}`)! })),
  };
}

/** The text lines of a node, before placing. */
export function nodeText(n: MeshGraphNode): { text: string; kind: TextLine["kind"] }[] {
  const lines: { text: string; kind: TextLine["kind"] }[] = [{ text: n.app, kind: "title" }];
  for (const s of n.services) lines.push({ text: s.name === n.app && n.services.length === 1 ? s.ports.join(" · ") : `${s.name}: ${s.ports.join(" · ")}`, kind: "body" });
  lines.push(n.placed ? { text: instances(n), kind: "count" } : { text: "not placed here", kind: "body" });
  for (const p of n.policy) lines.push({ text: p, kind: "policy" });
  return lines;
}

/** `2 VM · 3 pods`, `1 pod`, `no instances`. */
export function instances(n: MeshGraphNode): string {
  const parts = [n.vm.count > 0 ? `${n.vm.count} VM` : "", n.pods.count > 0 ? `${n.pods.count} pod${n.pods.count === 1 ? "" : "s"}` : ""].filter(Boolean);
  return parts.length > 0 ? parts.join(" · ") : "no instances";
}

interface Part {
  nodes: MeshGraphNode[];
  edges: MeshGraphEdge[];
}

/** The connected parts, largest first (ties: by their first app), each with its nodes and edges sorted as given. */
function components(input: MeshGraphInput): Part[] {
  const root = new Map(input.nodes.map((n) => [n.app, n.app]));
  const find = (a: string): string => {
    let r = a;
    while (root.get(r) !== r) r = root.get(r)!;
    root.set(a, r);
    return r;
  };
  for (const e of input.edges) if (root.has(e.from) && root.has(e.to)) root.set(find(e.from), find(e.to));
  const parts = new Map<string, Part>();
  for (const n of input.nodes) {
    const r = find(n.app);
    if (!parts.has(r)) parts.set(r, { nodes: [], edges: [] });
    parts.get(r)!.nodes.push(n);
  }
  for (const e of input.edges) if (root.has(e.from) && root.has(e.to)) parts.get(find(e.from))!.edges.push(e);
  return [...parts.values()].sort((a, b) => b.nodes.length - a.nodes.length || compareStrings(a.nodes[0]!.app, b.nodes[0]!.app));
}

function layoutPart(nodes: MeshGraphNode[], edges: MeshGraphEdge[]): GraphLayout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 56, edgesep: 12, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  const text = new Map(nodes.map((n) => [n.app, nodeText(n)]));
  for (const n of nodes) {
    const lines = text.get(n.app)!;
    const chars = (l: (typeof lines)[number]) => (l.kind === "count" ? Math.max(COUNT_CHARS, l.text.length) : l.text.length);
    g.setNode(n.app, { width: Math.ceil(Math.max(100, ...lines.map((l) => chars(l) * CHAR[l.kind])) + 2 * PAD), height: lines.length * LINE + PAD });
  }
  for (const e of edges) {
    const size = e.policy.length > 0 ? { width: Math.ceil(Math.max(...e.policy.map((l) => l.length * CHAR.policy)) + 8), height: e.policy.length * LABEL_LINE + 4, labelpos: "c" } : {};
    g.setEdge(e.from, e.to, size);
  }
  dagre.layout(g);
  const placed = nodes.map((n): PlacedNode => {
    const { x, y, width, height } = g.node(n.app) as { x: number; y: number; width: number; height: number };
    const left = x - width / 2;
    const top = y - height / 2;
    const lines = text.get(n.app)!.map((l, i) => ({ ...l, x: left + PAD, y: top + PAD / 2 + LINE * i + 12 }));
    return { node: n, x: left, y: top, width, height, lines };
  });
  const placedEdges = edges.map((e): PlacedEdge => {
    const v = g.edge(e.from, e.to) as { points: { x: number; y: number }[]; x?: number; y?: number; width?: number; height?: number };
    const label =
      e.policy.length > 0 && v.x !== undefined && v.y !== undefined
        ? { x: v.x - v.width! / 2, y: v.y - v.height! / 2, width: v.width!, height: v.height!, lines: e.policy.map((t, i) => ({ text: t, kind: "policy" as const, x: v.x! - v.width! / 2 + 4, y: v.y! - v.height! / 2 + 2 + LABEL_LINE * i + 11 })) }
        : null;
    return { edge: e, points: v.points.map((p) => ({ x: p.x, y: p.y })), label };
  });
  const box = g.graph() as { width?: number; height?: number };
  return { width: box.width ?? 0, height: box.height ?? 0, nodes: placed, edges: placedEdges };
}

/** Packs laid-out parts in rows (shelves) about as wide as a screen or the widest part, whichever is wider. */
function pack(parts: GraphLayout[]): GraphLayout {
  const area = parts.reduce((s, p) => s + (p.width + GAP) * (p.height + GAP), 0);
  const rowWidth = Math.max(1200, Math.sqrt(area) * 1.6, ...parts.map((p) => p.width));
  const out: GraphLayout = { width: 0, height: 0, nodes: [], edges: [] };
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const p of parts) {
    if (x > 0 && x + p.width > rowWidth) {
      x = 0;
      y += rowHeight + GAP;
      rowHeight = 0;
    }
    const dx = x + GAP / 2;
    const dy = y + GAP / 2;
    for (const n of p.nodes) out.nodes.push({ ...n, x: n.x + dx, y: n.y + dy, lines: n.lines.map((l) => ({ ...l, x: l.x + dx, y: l.y + dy })) });
    for (const e of p.edges) out.edges.push({ edge: e.edge, points: e.points.map((q) => ({ x: q.x + dx, y: q.y + dy })), label: e.label && { ...e.label, x: e.label.x + dx, y: e.label.y + dy, lines: e.label.lines.map((l) => ({ ...l, x: l.x + dx, y: l.y + dy })) } });
    x += p.width + GAP;
    rowHeight = Math.max(rowHeight, p.height);
    out.width = Math.max(out.width, x);
  }
  out.height = parts.length > 0 ? y + rowHeight + GAP : 0;
  return out;
}
