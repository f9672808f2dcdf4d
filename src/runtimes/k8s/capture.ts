// The capture rules of a pod: the very fragment a VM host gets (src/runtimes/capture/render.ts, one app, its
// target ports), plus the jumps from the built-in chains that the host task inserts one by one with `iptables -C
// || -I` — in a pod they are `-A` lines of the same restore input, because the pod's network namespace is new and
// its built-in chains are empty. amphi-init (pod.ts) applies the file with `iptables-restore --noflush`.
//
// If the init container runs again in the same namespace (kubelet re-runs init containers when it lost their
// record), the AMPHI_* chains are flushed and refilled (a declared chain is flushed by --noflush input) and the
// jumps are appended a second time: a packet then passes the same AMPHI_* chain twice, which redirects it the
// same way (REDIRECT ends the walk; RETURN falls through to the next, identical jump).
import type { IptablesRestore, MeshModel } from "../../model/index.js";
import { captureHooks, captureTables } from "../capture/render.js";
import { formatRestore } from "../capture/iptables.js";

/** The program amphi-init runs, and its path in the default init image.
 *
 * The image: `registry.k8s.io/build-image/distroless-iptables`, kube-proxy's own base image, built from Debian
 * bookworm's `iptables` package (kubernetes/release, images/build/distroless-iptables/distroless-bookworm/
 * Dockerfile; the tag is the one kubernetes/kubernetes pins in build/common.sh). It stages every binary of that
 * package, so `/usr/sbin/iptables-nft-restore` (a link to xtables-nft-multi) is there, and no shell is needed.
 *
 * Why the nft backend, named explicitly: the image's `/usr/sbin/iptables-restore` is the iptables-wrapper, which
 * guesses the backend from kubelet's chains in the *current* namespace — a pod's namespace has none, so it picks
 * nft anyway, after running several -save commands. Inside the pod's own namespace there are no other rules to
 * stay consistent with (kube-proxy's live in the node's namespace), and nf_tables is in every kernel Kubernetes
 * supports, while the legacy ip_tables modules are missing on newer distributions (RHEL 9 and later). */
export const POD_IPTABLES_RESTORE = "/usr/sbin/iptables-nft-restore";

/** The pod's capture rules as one `iptables-restore --noflush` input. Same mesh and ports, same bytes. */
export function podCaptureRules(mesh: MeshModel, env: string, app: string, ports: number[]): string {
  const inbound = [{ app, ports: [...new Set(ports)].sort((a, b) => a - b) }];
  return formatRestore(withHooks(captureTables(`# amphi capture for pods of ${app} (env ${env})`, mesh, inbound)));
}

function withHooks(doc: IptablesRestore): IptablesRestore {
  const hooks = captureHooks();
  return {
    ...doc,
    tables: doc.tables.map((t) => ({
      ...t,
      ops: [...t.ops, ...hooks.filter((h) => h.table === t.name).map((h) => ({ op: "-A" as const, chain: h.chain, args: h.rule.split(" ") }))],
    })),
  };
}
