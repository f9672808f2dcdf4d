// The double's object store and the bookkeeping every write goes through, as the real apiserver
// does it: uid and creationTimestamp on create, one global resourceVersion counter bumped on every
// write, metadata.generation bumped on spec changes (Deployments), defaults, validation, and no
// write at all when nothing changed (a no-op apply keeps its resourceVersion).
import { randomUUID } from "node:crypto";
import { groupVersion, type ResourceType } from "./catalog.js";
import { applyDefaults } from "./defaults.js";
import { deepEqual, isObj, type Obj } from "./fieldset.js";
import { writeManagers, type Manager } from "./managed.js";
import { invalid, notFound, type Subject } from "./status.js";
import { validateObject } from "./validate.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";

/** Events kept for watches that start from a resourceVersion (a real apiserver's watch cache keeps a
 * window of them too, and answers 410 Gone for versions older than it). */
const HISTORY = 10_000;

/** Where an object lives. `namespace` is undefined for cluster-scoped types. */
export interface Ref {
  type: ResourceType;
  namespace: string | undefined;
  name: string;
}

/** A change the store made, for watchers and the request log. */
export interface StoreEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  ref: Ref;
  object: Obj;
}

/** Options every write takes. */
export interface WriteOptions {
  dryRun: boolean;
}

/** Metadata of `obj` (created when missing). */
export function meta(obj: Obj): Obj {
  if (!isObj(obj.metadata)) obj.metadata = {};
  return obj.metadata as Obj;
}

/** The error subject for a reference. */
export function subject(ref: Ref): Subject {
  return { resource: ref.type.resource, group: ref.type.group, name: ref.name };
}

function storeKey(ref: Ref): string {
  return `${groupVersion(ref.type)}/${ref.type.resource}/${ref.namespace ?? ""}/${ref.name}`;
}

/** The double's objects, keyed by type, namespace and name. */
export class Store {
  private readonly objects = new Map<string, { ref: Ref; obj: Obj }>();
  private rv = 1000;
  private nextIP = 10;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  /** The last HISTORY events with the resourceVersion each made, oldest first (watches replay from it). */
  private readonly history: { rv: number; event: StoreEvent }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** How long a deleted namespace stays Terminating before it and its contents are gone (the double's
   * `namespaceTerminationMs`; a real namespace controller takes as long as its content takes). */
  namespaceTerminationMs = 50;

  constructor(private readonly now: () => Date) {}

  /** The current global resourceVersion. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** RFC 3339 time, seconds precision, as metadata timestamps are written. */
  timestamp(): string {
    return this.now().toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /** A copy of the stored object, or undefined. */
  find(ref: Ref): Obj | undefined {
    const hit = this.objects.get(storeKey(ref));
    return hit ? structuredClone(hit.obj) : undefined;
  }

  /** A copy of the stored object; 404 NotFound when missing. */
  get(ref: Ref): Obj {
    const obj = this.find(ref);
    if (!obj) throw notFound(subject(ref));
    return obj;
  }

  /** Copies of every stored object of `type` (in `namespace` if given) matching both selectors,
   * ordered by namespace and name. */
  list(type: ResourceType, namespace: string | undefined, labelSelector: string | null, fieldSelector: string | null): Obj[] {
    const byLabel = parseLabelSelector(labelSelector);
    const byField = parseFieldSelector(fieldSelector);
    return [...this.objects.values()]
      .filter(({ ref }) => ref.type === type && (namespace === undefined || ref.namespace === namespace))
      .sort((a, b) => storeKey(a.ref).localeCompare(storeKey(b.ref)))
      .map(({ obj }) => structuredClone(obj))
      .filter((o) => byLabel(o) && byField(o));
  }

  /** Every stored object with its reference (copies). */
  all(): { ref: Ref; obj: Obj }[] {
    return [...this.objects.values()].map(({ ref, obj }) => ({ ref, obj: structuredClone(obj) }));
  }

  /** Runs `fn` after `ms` unless dispose() comes first (deferred work, like a controller's). */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  /** Cancels deferred work. */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** The events after resourceVersion `rv` (oldest first), as a watch from `rv` must replay them; "expired"
   * when `rv` is older than the kept history (the apiserver's 410 "too old resource version"). */
  since(rv: number): StoreEvent[] | "expired" {
    const oldest = this.history[0]?.rv ?? this.rv + 1;
    if (rv < oldest - 1 && rv < this.rv) return "expired";
    return this.history.filter((h) => h.rv > rv).map((h) => h.event);
  }

  /** Calls `fn` on every change until the returned function is called. */
  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Validates, defaults and stores `after` as the new state of `ref` (a create when `before` is
   * undefined). `managers` computes the managed fields from the defaulted object. Returns the stored
   * object, or `before` unchanged when the write changes nothing (no resourceVersion bump). */
  commit(ref: Ref, before: Obj | undefined, after: Obj, opts: WriteOptions, managers: (defaulted: Obj) => Manager[]): Obj {
    const md = meta(after);
    md.name = ref.name;
    if (ref.namespace !== undefined) md.namespace = ref.namespace;
    else delete md.namespace;
    after.apiVersion = groupVersion(ref.type);
    after.kind = ref.type.kind;
    const errors = validateObject(after, before);
    if (errors.length > 0) throw invalid(ref.type.kind, subject(ref), errors);
    applyDefaults(after, () => `10.96.${Math.floor(this.nextIP / 250)}.${(this.nextIP++ % 250) + 1}`);
    md.managedFields = writeManagers(managers(after));
    const old = before ? meta(before) : undefined;
    md.uid = old?.uid ?? randomUUID();
    md.creationTimestamp = old?.creationTimestamp ?? this.timestamp();
    if (ref.type.hasGeneration) {
      const gen = typeof old?.generation === "number" ? old.generation : 0;
      md.generation = !before ? 1 : deepEqual(before.spec, after.spec) ? gen : gen + 1;
    }
    md.resourceVersion = old?.resourceVersion;
    if (before && sameIgnoringTimes(before, after)) return before;
    if (opts.dryRun) {
      if (!before) delete md.resourceVersion;
      return after;
    }
    md.resourceVersion = String(++this.rv);
    this.put(ref, after, before ? "MODIFIED" : "ADDED");
    return structuredClone(after);
  }

  /** Removes an object (no-op when missing); returns what was stored. */
  remove(ref: Ref, opts: WriteOptions): Obj {
    const obj = this.get(ref);
    if (opts.dryRun) return obj;
    this.objects.delete(storeKey(ref));
    meta(obj).resourceVersion = String(++this.rv);
    this.emit({ type: "DELETED", ref, object: obj });
    return obj;
  }

  private put(ref: Ref, obj: Obj, type: StoreEvent["type"]): void {
    this.objects.set(storeKey(ref), { ref, obj: structuredClone(obj) });
    this.emit({ type, ref, object: structuredClone(obj) });
  }

  private emit(e: StoreEvent): void {
    this.history.push({ rv: this.rv, event: e });
    if (this.history.length > HISTORY) this.history.shift();
    for (const fn of this.listeners) fn(e);
  }
}

/** Equal except for managedFields timestamps and order (the apiserver ignores both when it
 * detects no-op writes). */
function sameIgnoringTimes(a: Obj, b: Obj): boolean {
  const strip = (o: Obj) => {
    const c = structuredClone(o);
    const md = meta(c);
    if (Array.isArray(md.managedFields)) {
      md.managedFields = md.managedFields
        .map((e) => (isObj(e) ? { ...e, time: "" } : e))
        .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    }
    return c;
  };
  return deepEqual(strip(a), strip(b));
}
