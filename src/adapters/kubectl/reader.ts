// The k8s runtime's live-state reader: each cluster of the environment read with kubectl (amphi's objects
// by label, in the namespaces the environment places apps in); a cluster that cannot be read is unreachable.
import type { EnvironmentModel } from "../../model/index.js";
import type { ActualRead, ActualReader } from "../../ports/actual.js";
import { clusterNamespaces, readCluster } from "./read.js";
import type { KubectlOptions } from "./run.js";

/** Reads the environment's clusters, all at once. Without kubectl options, each cluster is reported
 * unreachable ("not read here"). */
export class ClusterReader implements ActualReader {
  constructor(private readonly kubectl: KubectlOptions | undefined) {}

  async read(env: EnvironmentModel, signal?: AbortSignal): Promise<ActualRead> {
    const out: ActualRead = { resources: [], unreachable: [] };
    const kubectl = this.kubectl;
    await Promise.all(
      env.clusters.map(async (c) => {
        if (!kubectl) return void out.unreachable.push({ runtime: "k8s", target: c.name, reason: "clusters are not read here (use --actual)" });
        try {
          out.resources.push(...(await readCluster(c, env.name, { ...kubectl, namespaces: clusterNamespaces(env, c.name), signal })).resources);
        } catch (e) {
          out.unreachable.push({ runtime: "k8s", target: c.name, reason: (e as Error).message });
        }
      }),
    );
    return out;
  }
}
