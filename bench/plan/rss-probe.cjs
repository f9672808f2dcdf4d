// Preloaded by bench/plan/run.ts into each command it times (`node --require`): at exit, writes this process's
// peak resident set size (KiB, getrusage's ru_maxrss) to $AMPHI_BENCH_RSS_FILE.
const { writeFileSync } = require("node:fs");
const file = process.env.AMPHI_BENCH_RSS_FILE;
if (file) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
