// Shared pieces of the runtimes' compare rules: full comparison of records amphi owns whole.
import type { Json } from "../model/index.js";
import type { CompareOptions } from "./compare.js";
import type { Segment } from "./paths.js";

const NONE: ReadonlySet<string> = new Set();

/** A predicate that holds for nothing (no secret field, no ignored field). */
export const never = (): boolean => false;

/** Every field on both sides counts; `isSecret` says which are masked. */
export function full(isSecret: (segments: readonly Segment[]) => boolean): CompareOptions {
  return { mode: "full", ownedLists: NONE, ignored: never, isSecret };
}

/** Model records are plain JSON by construction; TypeScript cannot see interfaces as index signatures. */
export function asJson(value: unknown): Json {
  return value as Json;
}
