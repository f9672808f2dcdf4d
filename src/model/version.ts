// The version an instance runs, as the mesh and the registry name it (`version:<v>` tag, traffic splits).
import type { Placement } from "./spec.js";

/** The tag of an image reference: `reg.example:5000/shop/api:2.4.0` → `2.4.0`; `api@sha256:…` → the digest
 * (`sha256:…`); no tag at all → `latest`, as the container runtime pulls it. */
export function imageTag(image: string): string {
  const at = image.indexOf("@");
  if (at >= 0) return image.slice(at + 1);
  const name = image.slice(image.lastIndexOf("/") + 1);
  const colon = name.lastIndexOf(":");
  return colon >= 0 ? name.slice(colon + 1) : "latest";
}

/** The version every instance of one placement runs, after the placement's overrides: on hosts the package
 * version, in pods the container's `version` if the app or placement sets one, else the image tag. The
 * registry tags instances with it and traffic splits name it. */
export function placementVersion(placement: Placement): string {
  if (placement.type === "hostGroup") return placement.package.version;
  return placement.container.version ?? imageTag(placement.container.image);
}
