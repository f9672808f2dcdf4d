// The k8s runtime's resource: one Kubernetes object of an app in a cluster. The model's Resource union
// gains this member here, by module augmentation.
import type { K8sObject } from "../../model/index.js";

declare module "../../model/resources.js" {
  interface RuntimeResources {
    k8s: { app: string; object: K8sObject };
  }
}
