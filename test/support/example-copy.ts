// A private copy of the example config repo with the app ports moved to free ones, so tests that start
// the example's apps can run next to each other and next to other runs on the machine.
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { freePort } from "./local-host.js";

/** Copies the example repo into a new temp dir; the example's ports 9100, 8080 and 9090 become free
 * ports everywhere they are written (specs and start commands). Returns the dir and the port map. */
export async function exampleCopy(prefix = "amphi-example"): Promise<{ dir: string; ports: Record<number, number> }> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-${process.pid}-`));
  cpSync(EXAMPLE_REPO, dir, { recursive: true });
  const ports: Record<number, number> = { 9100: await freePort(), 8080: await freePort(), 9090: await freePort() };
  for (const app of readdirSync(join(dir, "apps"))) {
    const file = join(dir, "apps", app, "spec.yaml");
    let text = readFileSync(file, "utf8");
    for (const [from, to] of Object.entries(ports)) text = text.replace(new RegExp(`\\b${from}\\b`, "g"), String(to));
    writeFileSync(file, text);
  }
  return { dir, ports };
}
