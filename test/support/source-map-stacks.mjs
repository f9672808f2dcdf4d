// Stacks that name the TypeScript lines, as `--enable-source-maps` gives them, for the processes of a test run
// (test/run.mjs preloads this with --import into the driver, every test file and the helper processes tests start
// from the compiled tree: test/support/node-script.ts). Why not --enable-source-maps itself: with it, node reads and
// decodes the inline source map of every module it loads, when it loads it (~70–100 ms of CPU in a test file's
// process, which loads ~150 compiled modules; ~130 such processes a run), while a stack is made for a few of them.
// Here a map is read the first time a stack names its file, through node's own SourceMap (node:module).
// The text is V8's for each frame, with the compiled file's location replaced by the source's, as node does.
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The inline source map comment esbuild writes at the end of each compiled file. */
const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/;
/** Source map by the compiled file's URL; null: none (not compiled by us, unreadable). */
const maps = new Map();

function mapOf(url) {
  let map = maps.get(url);
  if (map !== undefined) return map;
  map = null;
  try {
    const text = readFileSync(fileURLToPath(url), "utf8");
    const m = INLINE_MAP.exec(text.slice(-Math.min(text.length, 1 << 20)));
    if (m) {
      const payload = JSON.parse(Buffer.from(m[1], "base64").toString("utf8"));
      // as node does: the sources resolved against the compiled file
      payload.sources = (payload.sources ?? []).map((s) => new URL(s, new URL(payload.sourceRoot ?? "", url)).href);
      map = new SourceMap(payload);
    }
  } catch {
    map = null;
  }
  maps.set(url, map);
  return map;
}

/** One frame as V8 writes it, at the source's line and column when the frame is in a compiled file with a map. */
function frame(site) {
  const text = String(site);
  const file = site.getFileName();
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  if (!file || !line || !column || !file.endsWith(".js")) return text;
  const url = file.startsWith("file://") ? file : file.startsWith("/") ? pathToFileURL(file).href : null;
  const map = url && mapOf(url);
  if (!map) return text;
  const entry = map.findEntry(line - 1, column - 1);
  if (!entry || typeof entry.originalSource !== "string") return text;
  const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : entry.originalSource;
  const at = `${file}:${line}:${column}`;
  const i = text.lastIndexOf(at);
  return i < 0 ? text : `${text.slice(0, i)}${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}${text.slice(i + at.length)}`;
}

Error.prepareStackTrace = (error, sites) => {
  let head;
  try {
    head = Error.prototype.toString.call(error);
  } catch {
    head = "<error>";
  }
  return sites.length === 0 ? head : `${head}\n    at ${sites.map(frame).join("\n    at ")}`;
};
