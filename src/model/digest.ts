// The sha256 digests amphi names things by: a spec's hash, and the 16-hex-digit short form that versions mesh
// resources, bootstraps and mirror folders carry.
import { hash } from "node:crypto";

/** The sha256 of `text` (UTF-8), 64 hex digits; one call, no Hash object. */
export function sha256Hex(text: string): string {
  return hash("sha256", text, "hex");
}

/** The first 16 hex digits of `text`'s sha256: short enough to show in plans and paths, long enough not to collide
 * among one environment's objects. */
export function shortDigest(text: string): string {
  return sha256Hex(text).slice(0, 16);
}
