// A kube-apiserver double in a process of its own for bench/kube (so its CPU time is not the pipeline's):
// prints one JSON line {kubeconfig, context} when listening, then serves until stdin closes.
import { startKubeApiServer } from "../../test/support/kube-apiserver/index.js";
import { DOUBLE_CONTEXT, kubeconfigFor } from "../../test/support/kubeconfig.js";

// autoReady: the Deployment controller's part happens at once, so the apply's health wait is one read.
const double = await startKubeApiServer({ autoReady: true });
const kubeconfig = await kubeconfigFor(double);
process.stdout.write(JSON.stringify({ kubeconfig: kubeconfig.path, context: DOUBLE_CONTEXT, cacheDir: kubeconfig.env.KUBECACHEDIR }) + "\n");
const stop = async (): Promise<void> => {
  await double.close();
  kubeconfig.cleanup();
  process.exit(0);
};
process.stdin.on("end", () => void stop());
process.stdin.resume();
process.on("SIGTERM", () => void stop());
