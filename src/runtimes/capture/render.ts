// Traffic capture, one rule for pods and VMs (DESIGN.md "Traffic capture"): only the apps' own ports are
// redirected inbound, only traffic to the mesh service IP outbound, DNS (udp+tcp 53) goes to mesh-dns,
// and the proxy uid is never captured. Pods get it as amphi-init args (k8s/pod.ts); hosts as an iptables-restore
// fragment, one capture resource per host.
import type { CaptureRules, EnvironmentModel, HostInstance, IptablesOp, IptablesRestore, MeshModel } from "../../model/index.js";
import { compareStrings } from "../../model/index.js";
import type { RenderHook } from "../types.js";
import { SIDECAR_ADMIN_PORT, vmSidecarSource } from "../sidecar/render.js";
import { formatRestore } from "./iptables.js";

/** The capture render hook: when the environment captures traffic, one resource per host with at least one
 * instance, all apps of the host in one fragment. */
export const renderCapture: RenderHook<"capture"> = ({ env, hosts }) =>
  env.mesh.capture
    ? hosts.map(({ target, hostGroup, host, instances }) => ({
        runtime: "capture",
        key: `capture/${hostGroup}/${host}`,
        app: null,
        target,
        capture: hostCapture(env, hostGroup, host, instances.map((i) => i.instance)),
      }))
    : [];

/** The chains amphi owns on a host. Only these are declared in the fragment: declaring a chain in an
 * `iptables-restore --noflush` input flushes it, so a built-in chain must never be declared there. */
export const CAPTURE_CHAINS = {
  nat: ["AMPHI_PREROUTING", "AMPHI_IN_REDIRECT", "AMPHI_OUTPUT", "AMPHI_OUT_REDIRECT"],
  raw: ["AMPHI_RAW_OUTPUT"],
} as const;

/** Conntrack zone of the apps' (redirected) queries and mesh-dns's answers to them. mesh-dns's own upstream
 * queries and their replies stay in the default zone 0, like every other flow of the host (see rawRules). */
const ZONE_CLIENT = 2;

/** The capture rules of one host: every app instance on it in one fragment (see `CaptureRules`). */
export function hostCapture(env: EnvironmentModel, hostGroup: string, host: string, instances: HostInstance[]): CaptureRules {
  const inbound = instances
    .map((i) => ({ app: i.app, ports: [...new Set(i.ports.map((p) => p.port))].sort((a, b) => a - b) }))
    .sort((a, b) => compareStrings(a.app, b.app));
  const fragment = formatRestore(captureTables(`# amphi capture for ${hostGroup}/${host} (env ${env.name})`, env.mesh, inbound));
  const rules: CaptureRules = { hostGroup, host, inbound, fragment, hooks: captureHooks(), dns: hostDns(env) };
  if (vmSidecarSource(env) !== null) rules.proxy = { adminPort: SIDECAR_ADMIN_PORT, inboundPort: env.mesh.inboundPort, outboundPort: env.mesh.outboundPort };
  return rules;
}

/** The chains and rules of a host's capture, as structure (formatRestore makes the fragment of it). */
export function captureTables(comment: string, mesh: MeshModel, inbound: CaptureRules["inbound"]): IptablesRestore {
  return {
    comments: [comment],
    tables: [
      { name: "nat", chains: CAPTURE_CHAINS.nat.map(declare), ops: natRules(mesh, inbound) },
      { name: "raw", chains: CAPTURE_CHAINS.raw.map(declare), ops: rawRules(mesh) },
    ],
  };
}

/** mesh-dns as the host runs it: on 127.0.0.1 (where REDIRECT delivers the host's queries; see natRules), as
 * the proxy uid (whose upstream queries capture leaves alone). */
export function hostDns(env: EnvironmentModel): NonNullable<CaptureRules["dns"]> {
  const m = env.mesh;
  return {
    listen: "127.0.0.1",
    port: m.dnsPort,
    domain: m.domain,
    serviceIP: m.serviceIP,
    upstreams: [...m.dnsUpstreams],
    consul: env.consul.enabled ? env.consul.address : null,
    user: m.proxyUid,
  };
}

/** Jumps from the built-in chains into amphi's; the host task inserts each with `iptables -C … || iptables -I …`
 * so that re-running it adds nothing, and removes them on undeploy before deleting the chains. */
export function captureHooks(): CaptureRules["hooks"] {
  return [
    { table: "nat", chain: "PREROUTING", rule: "-p tcp -j AMPHI_PREROUTING" },
    { table: "nat", chain: "OUTPUT", rule: "-j AMPHI_OUTPUT" },
    { table: "raw", chain: "OUTPUT", rule: "-j AMPHI_RAW_OUTPUT" },
  ];
}

/** A chain amphi declares (user chains have no policy: `-`). */
function declare(name: string): { name: string; policy: string } {
  return { name, policy: "-" };
}

/** `-A chain args…`, the args written as one string of space-separated tokens (none has a space). */
function A(chain: string, args: string): IptablesOp {
  return { op: "-A", chain, args: args.split(" ") };
}

function natRules(mesh: MeshModel, inbound: CaptureRules["inbound"]): IptablesOp[] {
  const uid = mesh.proxyUid;
  const dns = mesh.dnsPort;
  return [
    // Inbound: only the apps' own ports, so other listeners on the host (sshd, node exporters) stay direct.
    ...inbound.flatMap(({ app, ports }) =>
      ports.map((port): IptablesOp => ({
        op: "-A",
        chain: "AMPHI_PREROUTING",
        args: ["-p", "tcp", "--dport", String(port), "-m", "comment", "--comment", `amphi:${app}`, "-j", "AMPHI_IN_REDIRECT"],
      })),
    ),
    A("AMPHI_IN_REDIRECT", `-p tcp -j REDIRECT --to-ports ${mesh.inboundPort}`),
    // First: the proxy and mesh-dns run as the proxy uid. Their traffic (the proxy's upstream connections,
    // mesh-dns's forwarded queries) must leave untouched, or it would be redirected back to them: a loop.
    A("AMPHI_OUTPUT", `-m owner --uid-owner ${uid} -j RETURN`),
    // DNS before the loopback RETURN: most hosts resolve through a local stub (127.0.0.53, 127.0.0.1),
    // and queries to it must still reach mesh-dns, or mesh names would never resolve. The stub's own upstream
    // queries are captured too, so mesh-dns must forward to real resolvers, never back to a local stub.
    // REDIRECT sends locally generated packets to 127.0.0.1:<dns>, so mesh-dns must listen on 127.0.0.1 (a UDP
    // socket bound to 0.0.0.0 answers from the host's own address, which the client does not accept).
    A("AMPHI_OUTPUT", `-p udp --dport 53 -j REDIRECT --to-ports ${dns}`),
    A("AMPHI_OUTPUT", `-p tcp --dport 53 -j REDIRECT --to-ports ${dns}`),
    // The app talking to itself (or anything else) over loopback stays uncaptured.
    A("AMPHI_OUTPUT", "-d 127.0.0.0/8 -j RETURN"),
    // A process of the host calling an app's port at one of the host's own addresses takes the path clients
    // of other hosts take (locally made packets never pass PREROUTING): through the sidecar's inbound
    // listener. So the health reporter, which checks through the host's address, sees what clients see.
    ...inbound.flatMap(({ app, ports }) =>
      ports.map((port): IptablesOp => ({
        op: "-A",
        chain: "AMPHI_OUTPUT",
        args: ["-p", "tcp", "--dport", String(port), "-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", `amphi:${app}`, "-j", "AMPHI_IN_REDIRECT"],
      })),
    ),
    // Outbound: only the mesh service IP, which mesh-dns hands out for registered names. Everything else
    // other processes send is left alone.
    A("AMPHI_OUTPUT", `-d ${mesh.serviceIP}/32 -p tcp -j AMPHI_OUT_REDIRECT`),
    A("AMPHI_OUT_REDIRECT", `-p tcp -j REDIRECT --to-ports ${mesh.outboundPort}`),
  ];
}

// Why conntrack zones: a client's query to <server>:53 is REDIRECTed to mesh-dns, and mesh-dns forwards it to
// the same <server>:53. Conntrack keeps the client's NATed UDP entry (<host>:p -> <server>:53, redirected) for
// 30 s or more after the answer; when mesh-dns later sends its own query from the same port p (the client's
// socket is closed, so p is free again) it matches that entry and is redirected back to mesh-dns itself, a loop.
// So the clients' queries and mesh-dns's answers to them live in zone 2, apart from mesh-dns's upstream queries.
//
// mesh-dns's upstream queries and the resolvers' replies stay in the default zone 0. Marking the replies with
// a zone would need a rule in raw PREROUTING, where nothing tells a reply to mesh-dns from the reply to a DNS
// query the host forwards or masquerades (containers or VMs on the host, a local bridge): such replies would
// land in another zone than their query's entry, miss it, never be un-NATed and be dropped, breaking DNS of
// everything behind the host. So amphi adds nothing to raw PREROUTING. (Istio's rules put the resolvers'
// replies into zone 1 there: fine in a pod, which forwards nothing; a VM host may.)
function rawRules(mesh: MeshModel): IptablesOp[] {
  const uid = mesh.proxyUid;
  return [
    // mesh-dns's answers to clients: in the clients' zone, so they match the REDIRECTed query and get un-NATed.
    A("AMPHI_RAW_OUTPUT", `-p udp --sport ${mesh.dnsPort} -m owner --uid-owner ${uid} -j CT --zone ${ZONE_CLIENT}`),
    // The clients' queries (everyone but the proxy uid), before nat OUTPUT redirects them.
    A("AMPHI_RAW_OUTPUT", `-p udp --dport 53 -m owner ! --uid-owner ${uid} -j CT --zone ${ZONE_CLIENT}`),
  ];
}
