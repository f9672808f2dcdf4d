// Config-repo files the control-plane tests share: the `echo` app (one grpc port, 50051) and the head of an
// environment file with its mesh settings (capture off: these tests run no host) and, when given, its Consul.

/** The `echo` app: grpc on 50051, in pods of `image` (its tag is the pods' version). */
export function echoApp(tag = "2.3.0"): string {
  return `apiVersion: v1
kind: Application
spec:
  services:
  - name: echo
    ports:
    - targetPort: 50051
      protocol: grpc
  container:
    image: registry.example.com/test/echo:${tag}
`;
}

/** `apiVersion`, `kind` and `spec.mesh` of an environment file, plus `spec.consul.address` when `consul` is given;
 * the caller appends the rest of `spec` (two-space indented keys). */
export function meshEnvHead(consul?: string): string {
  return `apiVersion: v1
kind: Environment
spec:
  mesh:
    serviceIP: 10.255.0.1
    capture: false
    sidecar:
      image: envoyproxy/envoy:v1.31.2
${consul === undefined ? "" : `  consul:\n    address: ${consul}\n`}`;
}

/** The rest of an environment's `spec` after meshEnvHead: cluster `dev` (context kind-dev, namespace test) with
 * the `echo` app placed on it. */
export const ECHO_ON_DEV = `  clusters:
  - name: dev
    context: kind-dev
    namespace: test
  placements:
  - app: echo
    cluster: dev
`;
