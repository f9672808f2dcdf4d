// commit → applied on hosts, by polling: `amphi serve --interval 1s` with no webhook; for each commit the
// bench polls `/v1/runs` until a run of that commit has ended (an interval cycle that applies records
// one; harness.ts does the rest). Usage:
//   node --import tsx bench/loop/poll.ts [commits=10]
import { isDone, runLoopBench, type RunView } from "./harness.js";

await runLoopBench(
  {
    name: "polling, --interval 1s",
    interval: "1s",
    applied: (url, sha, until) =>
      until(async () => {
        const runs = (await (await fetch(`${url}/v1/runs?env=local&limit=5`)).json()) as RunView[];
        return runs.find((r) => r.revision === sha && isDone(r));
      }, `a run of ${sha}`),
    // Land the next commit at a random point of the interval, as a real push would.
    pauseMs: () => 200 + Math.random() * 1000,
  },
  Number(process.argv[2] ?? 10),
);
