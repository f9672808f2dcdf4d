// Writes drift reports under `<dir>/<env>/`: `<id>.json|md|html` for the run or cycle, and `latest.*`
// (the newest, for a link that never changes). Each file is written atomically.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatDriftHtml, formatDriftJson, formatDriftMarkdown, type DriftReport, type MeshGraphInput } from "../../report/index.js";

/** Writes the three formats of `report` as `<id>.*` and `latest.*` under `<dir>/<env>/`; the HTML file ends with
 * the mesh graph when `graph` is given. */
export async function writeReports(dir: string, env: string, id: string, report: DriftReport, graph?: MeshGraphInput): Promise<void> {
  const folder = join(dir, env);
  await mkdir(folder, { recursive: true });
  const files: [string, string][] = [
    ["json", formatDriftJson(report)],
    ["md", formatDriftMarkdown(report)],
    ["html", formatDriftHtml(report, graph)],
  ];
  for (const [ext, text] of files) {
    for (const name of [`${id}.${ext}`, `latest.${ext}`]) {
      const target = join(folder, name);
      const tmp = `${target}.tmp-${process.pid}`;
      await writeFile(tmp, text);
      await rename(tmp, target);
    }
  }
}
