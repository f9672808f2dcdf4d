// The three plan formats in one import for the CLI: text (terminals, logs), JSON (tools), Markdown (PR comments).
export { formatPlanText, formatStep, formatSummary, formatUnknown, formatUnseen } from "./format-text.js";
export { formatPlanJson } from "./format-json.js";
export { formatPlanMarkdown } from "./format-markdown.js";
