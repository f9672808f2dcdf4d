// The mesh, pure: a MeshSnapshot (services, ports, instances, traffic policy, mesh settings) in, Envoy v3
// resources (plain JSON by type URL, sorted, hashed) out. No I/O; the xDS server in adapters/xds serves them.
export * from "./snapshot.js";
export * from "./envoy.js";
export { portClusters, portEndpoints, splitVersions, type Named } from "./clusters.js";
export { apiListeners, portRoutes, retryOn, routeAction } from "./proxyless.js";
export { buildResources, hashOf, versionOf, type MeshResource, type MeshResources } from "./resources.js";
export { declaredServices, hostAppsOf, hostGroupsOf, instanceVersion, meshSettings, meshSnapshot, podNamespaces, type RegisteredInstance, type ServiceDecl, type SnapshotInput } from "./registry.js";
export { catalogServices, PROTOCOL_META, type CatalogServices } from "./catalog.js";
export { appInboundListeners, appOf, hostInboundListeners, inboundClusters, INBOUND_H2_CLUSTER, LOCAL_RATELIMIT_TYPE_URL, localRateLimit } from "./inbound.js";
export { hostSidecarNodeId, parseHostSidecarNode, parseSidecarNode, sidecarNodeId, type HostSidecarNode, type SidecarNode } from "../model/proxies.js";
export { INBOUND_CLUSTER, INBOUND_LISTENER, OUTBOUND_LISTENER, PASSTHROUGH_CLUSTER, outboundRouteName, inboundListener, originalDstCluster, passthroughClusters, sidecarListeners, sidecarRoutes } from "./sidecar.js";
export { envoyBootstrap, envoyBootstrapYaml, XDS_CLUSTER, type BootstrapInput } from "./bootstrap.js";
export { CLUSTER_DOMAIN, DNS_FILTER_TYPE_URL, DNS_LISTENER, podDnsListeners, podDnsNames, podSearchSuffixes } from "./dns.js";
