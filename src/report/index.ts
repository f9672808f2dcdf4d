// report: desired × actual × plan (+ health and registry drift) in, a DriftReport out — one row per
// app × target with its sync status, health and drift items — and its JSON, Markdown, HTML and text formats.
// Pure: the time comes in as an argument.
export * from "./model.js";
export { buildDriftReport, DEFAULT_PROGRESS_TIMEOUT_MS, type DriftInput } from "./build.js";
export { formatDriftJson } from "./format-json.js";
export { formatDriftMarkdown, MARKDOWN_OPEN_ITEMS } from "./format-markdown.js";
export { escapeHtml, formatDriftHtml, OPEN_ITEMS } from "./format-html.js";
export { meshGraphInput, meshGraphSection, meshGraphSvg, NODE_STATES, STATE_COLOURS, type MeshGraphInput, type MeshGraphLive, type MeshGraphNode, type MeshGraphEdge, type NodeState } from "./mesh-graph.js";
export { formatDriftItem, formatDriftSummary, formatDriftText, formatIncomplete, unseenTargets } from "./format-text.js";
export { buildMatrix, cellOf, columnOf, filterApps, FILTER_HEALTHS, FILTER_STATUSES, type Matrix, type MatrixCell, type MatrixColumn, type MatrixFilter } from "./matrix.js";
export { appLabel, CSS, detailsHtml, matrixHtml, metaLine, tilesHtml } from "./html.js";
export { layoutFromReport, topologyHtml, topologyLayout, TOPOLOGY_CSS, type TopologyLayout } from "./topology.js";
