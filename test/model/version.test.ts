// imageTag and placementVersion: the version an instance runs, as registry tags and traffic splits name it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageTag, placementVersion, type ClusterPlacement, type HostGroupPlacement } from "../../src/model/index.js";
import { fixtureEnvironment } from "../support/model-fixture.js";

describe("imageTag", () => {
  it("is the part after the last colon of the last path segment", () => {
    assert.equal(imageTag("registry.example.com/shop/user:1.4.2"), "1.4.2");
    assert.equal(imageTag("user:2.4.0-rc.1"), "2.4.0-rc.1");
  });

  it("does not take a registry port for a tag; no tag is latest", () => {
    assert.equal(imageTag("localhost:5000/shop/user"), "latest");
    assert.equal(imageTag("localhost:5000/shop/user:1.0"), "1.0");
    assert.equal(imageTag("nginx"), "latest");
  });

  it("is the digest of an image pinned by digest", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    assert.equal(imageTag(`reg.example/user@${digest}`), digest);
    assert.equal(imageTag(`reg.example/user:1.0@${digest}`), digest);
  });
});

describe("placementVersion", () => {
  const env = fixtureEnvironment();

  it("is the package version (after overrides) on hosts", () => {
    const vm = env.placements.find((p): p is HostGroupPlacement => p.type === "hostGroup")!;
    assert.equal(placementVersion(vm), vm.package.version);
    assert.equal(placementVersion({ ...vm, package: { ...vm.package, version: "2.4.0" } }), "2.4.0");
  });

  it("is the image tag (after overrides) in pods", () => {
    const pod = env.placements.find((p): p is ClusterPlacement => p.type === "cluster")!;
    assert.equal(placementVersion({ ...pod, container: { ...pod.container, image: "reg.example/x:9.9.9" } }), "9.9.9");
  });

  it("is the container's version when the app or placement names one, whatever the image tag", () => {
    const pod = env.placements.find((p): p is ClusterPlacement => p.type === "cluster")!;
    const digest = `reg.example/x@sha256:${"b".repeat(64)}`;
    assert.equal(placementVersion({ ...pod, container: { ...pod.container, image: digest, version: "2.4.0" } }), "2.4.0");
  });
});
