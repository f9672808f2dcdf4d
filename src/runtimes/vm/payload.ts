import type { HostInstance } from "../../model/index.js";

/** Payloads of the vm runtime's tasks. */
export type VmPayload = { kind: "deploy"; instance: HostInstance } | { kind: "start"; app: string } | { kind: "undeploy"; app: string };

declare module "../../model/run.js" {
  interface RuntimeTaskPayloads {
    vm: VmPayload;
  }
}
