// Watch (GET …?watch=true): a chunked stream of `{"type":…,"object":…}` lines, enough for
// `kubectl rollout status`, `kubectl wait` and `kubectl get -w`. Without a resourceVersion (or with
// "0") the current objects come first as ADDED events; with one, the changes made after that version
// come first (from the store's history), as a real apiserver replays them: an informer lists, then
// watches from the list's version, and a change made between the two must not be lost (kubectl delete
// of a namespace waited a week for a DELETED sent before its watch began). A version older than the
// history gets an ERROR event with the 410 Expired Status, as the apiserver's watch cache answers.
// The stream ends after timeoutSeconds, when the client goes away, or when the double closes.
import type { ServerResponse } from "node:http";
import type { ResourceType } from "./catalog.js";
import type { Obj } from "./fieldset.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { ApiError } from "./status.js";
import type { Store, StoreEvent } from "./store.js";

/** What a watch request asked for. */
export interface WatchRequest {
  type: ResourceType;
  namespace: string | undefined;
  labelSelector: string | null;
  fieldSelector: string | null;
  resourceVersion: string | null;
  timeoutSeconds: number | null;
}

/** Open watch streams, so close() can end them. */
export class Watches {
  private readonly open = new Set<() => void>();

  /** Streams events for `w` on `res` until it ends. */
  serve(store: Store, w: WatchRequest, res: ServerResponse): void {
    const byLabel = parseLabelSelector(w.labelSelector);
    const byField = parseFieldSelector(w.fieldSelector);
    const matches = (o: Obj) => byLabel(o) && byField(o);
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    res.flushHeaders(); // clients wait for the headers before they wait for events
    const send = (type: string, object: Obj) => res.write(`${JSON.stringify({ type, object })}\n`);
    const relevant = (e: StoreEvent) => e.ref.type === w.type && (w.namespace === undefined || e.ref.namespace === w.namespace) && matches(e.object);
    if (!w.resourceVersion || w.resourceVersion === "0") {
      for (const o of store.list(w.type, w.namespace, w.labelSelector, w.fieldSelector)) send("ADDED", o);
    } else {
      const rv = Number(w.resourceVersion);
      const past = Number.isInteger(rv) ? store.since(rv) : "invalid";
      if (typeof past === "string") {
        const error = past === "expired"
          ? new ApiError(410, "Expired", `too old resource version: ${w.resourceVersion} (${store.resourceVersion})`)
          : new ApiError(400, "BadRequest", `invalid resource version: ${w.resourceVersion}`);
        send("ERROR", error.toStatus() as Obj);
        res.end();
        return;
      }
      for (const e of past) if (relevant(e)) send(e.type, e.object);
    }
    const unsubscribe = store.subscribe((e) => {
      if (relevant(e)) send(e.type, e.object);
    });
    const timer = w.timeoutSeconds ? setTimeout(() => end(), w.timeoutSeconds * 1000) : undefined;
    const end = () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      this.open.delete(end);
      if (!res.writableEnded) res.end();
    };
    this.open.add(end);
    res.on("close", end);
  }

  /** Ends every open stream. */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }
}
