// What dist/ was built from: every folder's list of names and every file's size and mtime under src/. The build
// records it in dist/.source-stamp; the executable compares it with src/ on each run to decide whether dist/ is
// current (else it runs the sources through tsx). Plain text, no hash: comparing is as exact as hashing it and
// needs no node:crypto (~8 ms to load in a cold process) — the check is on every command's path.
import { readdirSync, statSync } from "node:fs";

/** The fingerprint of the tree under `dir`: a line per folder (its sorted names) and per file (size, mtime). */
export function sourceStamp(dir) {
  const lines = [];
  const walk = (rel) => {
    const names = readdirSync(dir + rel).sort();
    lines.push(`d ${rel}/\t${names.join("\t")}`);
    for (const name of names) {
      const p = `${rel}/${name}`;
      const st = statSync(dir + p);
      if (st.isDirectory()) walk(p);
      else lines.push(`f ${p}\t${st.size}\t${st.mtimeMs}`);
    }
  };
  walk("");
  return `${lines.join("\n")}\n`;
}
