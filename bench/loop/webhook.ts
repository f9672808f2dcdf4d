// commit → applied on hosts, through a webhook: for each commit the bench POSTs a GitHub push hook to
// `amphi serve` at once and polls that run until it has ended (harness.ts does the rest). Usage:
//   node --import tsx bench/loop/webhook.ts [commits=10]
import { isDone, runLoopBench, type RunView } from "./harness.js";

await runLoopBench(
  {
    name: "webhook",
    interval: "1h",
    async applied(url, sha, until) {
      const body = JSON.stringify({ ref: "refs/heads/main", after: sha });
      const hook = await fetch(`${url}/v1/hooks/git`, { method: "POST", headers: { "X-GitHub-Event": "push", "Content-Type": "application/json" }, body });
      const id = ((await hook.json()) as { runs: { id: string }[] }).runs[0]!.id;
      return until(async () => {
        const r = (await (await fetch(`${url}/v1/runs/${id}`)).json()) as RunView;
        return isDone(r) ? { ...r, id } : undefined;
      }, `run ${id}`);
    },
    pauseMs: () => 200,
  },
  Number(process.argv[2] ?? 10),
);
