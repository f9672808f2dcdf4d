// The manifests the kube-double tests apply: a Service and a Deployment shaped like amphi's
// rendered output (two containers, one init container, amphi's labels).
import { dump } from "js-yaml";

/** Labels amphi puts on what it manages. */
export const AMPHI_LABELS = { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/env": "prod" };

/** What varies between applies. */
export interface ShopOptions {
  image?: string;
  replicas?: number;
  name?: string;
}

/** The Service object. */
export function service(namespace: string, o: ShopOptions = {}): Record<string, unknown> {
  const name = o.name ?? "web";
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels: { ...AMPHI_LABELS, app: name } },
    spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
  };
}

/** The Deployment object. */
export function deployment(namespace: string, o: ShopOptions = {}): Record<string, unknown> {
  const name = o.name ?? "web";
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels: { ...AMPHI_LABELS, app: name } },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          initContainers: [{ name: "migrate", image: "registry.example/shop/migrate:1.0", args: ["--up"] }],
          containers: [
            {
              name: "app",
              image: o.image ?? "registry.example/shop/web:1.0",
              ports: [{ name: "http", containerPort: 8080 }],
              env: [{ name: "MODE", value: "prod" }],
            },
            { name: "mesh", image: "registry.example/envoy:1.30", ports: [{ containerPort: 15001 }] },
          ],
        },
      },
    },
  };
}

/** Multi-document YAML for a Service and a Deployment. */
export function shopYaml(namespace: string, o: ShopOptions = {}): string {
  return [service(namespace, o), deployment(namespace, o)].map((d) => dump(d)).join("---\n");
}
