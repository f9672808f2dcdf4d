// pod-sync: the pods of amphi's Deployments × amphi's pod registrations in Consul → the registrations to
// write and remove (one instance per ready pod and (service, port), under a synthetic node per cluster).
// Pure; reconcile/pod-sync.ts runs it through the PodSource and PodCatalog ports.
export { POD_RUNTIME, compareRegistrations, isOwnPodRegistration, podInstanceId, podNode, podRegistration, podRegistrations, podVersion } from "./instances.js";
export { decidePodSync, differences, formatPodStep, type PodField, type PodSyncInput, type PodSyncPlan, type PodSyncStep } from "./decide.js";
