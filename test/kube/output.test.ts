// Mapping kubectl's printed output back to objects (pure), on text kubectl 1.32 printed against the double.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { firstLines, isUnreachable, meaningfulLines } from "../../src/adapters/kubectl/errors.js";
import { parseAppliedLines, parseDeleteOutput, splitErrors } from "../../src/adapters/kubectl/output.js";
import { parseObjectName } from "../../src/adapters/kubectl/handler.js";
import type { K8sObject } from "../../src/model/index.js";

const ADVICE = `Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the \`--force-conflicts\` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
`;

const obj = (kind: string, namespace: string, name: string): K8sObject =>
  ({ apiVersion: kind === "Deployment" ? "apps/v1" : "v1", kind, metadata: { name, namespace } }) as K8sObject;

describe("kubectl output", () => {
  it("pairs `serverside-applied` lines with objects in input order, also for one name in two namespaces", () => {
    const docs = [obj("Service", "a", "web"), obj("Deployment", "a", "web"), obj("Deployment", "b", "web"), obj("ConfigMap", "b", "cfg")];
    const stdout = "service/web serverside-applied\ndeployment.apps/web serverside-applied\nconfigmap/cfg serverside-applied\n";
    assert.deepEqual([...parseAppliedLines(stdout, docs)], [0, 1, 3], "the second Deployment/web is the one that failed");
  });

  it("splits stderr into one error per failed object, without kubectl's conflict advice, warnings or prefixes", () => {
    const stderr = [
      "Warning: spec.template.spec.containers[0].env[1]: hides previous definition",
      `Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .spec.selector\n${ADVICE}`,
      `Apply failed with 2 conflicts: conflicts with "hpa":\n- .spec.replicas\n- .spec.template.spec.containers[name="app"].image\n${ADVICE}`,
      'Error from server (NotFound): namespaces "nope" not found',
    ].join("\n");
    assert.deepEqual(splitErrors(stderr), [
      'Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .spec.selector',
      'Apply failed with 2 conflicts: conflicts with "hpa": - .spec.replicas - .spec.template.spec.containers[name="app"].image',
      'Error from server (NotFound): namespaces "nope" not found',
    ]);
    assert.deepEqual(splitErrors(`error: Apply failed with 1 conflict: conflict with "x": .spec.replicas\n${ADVICE}`), ['Apply failed with 1 conflict: conflict with "x": .spec.replicas']);
  });

  it("keeps kubectl's own message over client-go log lines, once", () => {
    const klog = 'E1128 12:31:29.403027   23167 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list: dial tcp 127.0.0.1:1: connect: connection refused"';
    const stderr = `${klog}\n${klog}\nThe connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n`;
    assert.deepEqual(meaningfulLines(stderr), ["The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"]);
    assert.deepEqual(meaningfulLines(`${klog}\n`), [klog], "only log lines: keep them");
    assert.equal(firstLines('context "bad" does not exist\ncontext "bad" does not exist\n'), 'context "bad" does not exist');
    assert.equal(firstLines("a\nb\nc\nd\ne\n", 2), "a / b (+3 more lines)");
  });

  it("tells an unreachable cluster from a refusal", () => {
    assert.ok(isUnreachable("The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"));
    assert.ok(isUnreachable('error: context "nope" does not exist'));
    assert.ok(isUnreachable("Unable to connect to the server: dial tcp: lookup k8s.example: no such host"));
    assert.ok(!isUnreachable('Error from server (Forbidden): deployments.apps "web" is forbidden: User "x" cannot patch resource "deployments"'));
  });

  it("sorts a delete's objects into deleted, absent (ignored not-found) and failed by the names in errors", () => {
    const refs = [
      { kind: "Deployment", namespace: "shop", name: "web" },
      { kind: "Service", namespace: "shop", name: "web" },
      { kind: "ConfigMap", namespace: "shop", name: "amphi-proxy-web" },
    ];
    const out = parseDeleteOutput(
      'deployment.apps "web" deleted\n',
      'Error from server (Forbidden): configmaps "amphi-proxy-web" is forbidden: User "x" cannot delete resource "configmaps" in API group "" in the namespace "shop"\n',
      refs,
    );
    assert.deepEqual(out.deleted, ["Deployment/shop/web"]);
    assert.deepEqual(out.absent, ["Service/shop/web"]);
    assert.deepEqual(out.failed.map((f) => f.object), ["ConfigMap/shop/amphi-proxy-web"]);
    const unnamed = parseDeleteOutput("", "error: You must be logged in to the server (Unauthorized)\n", refs);
    assert.deepEqual(unnamed.failed.map((f) => f.message), Array(3).fill("error: You must be logged in to the server (Unauthorized)"));
  });

  it("parses plan objects", () => {
    assert.deepEqual(parseObjectName("Deployment/shop/web"), { kind: "Deployment", namespace: "shop", name: "web" });
    assert.throws(() => parseObjectName("Namespace/shop"), /cannot delete Namespace\/shop: expected Kind\/namespace\/name/);
  });
});
