// Watch (GET …?watch=true): a chunked stream of `{"type":…,"object":…}` lines, enough for
// `kubectl rollout status`, `kubectl wait` and `kubectl get -w`. Without a resourceVersion (or with
// "0") the current objects come first as ADDED events; with one, only later changes are sent, since
// the double keeps no history (a real apiserver would replay from that version or answer 410).
// The stream ends after timeoutSeconds, when the client goes away, or when the double closes.
import type { ServerResponse } from "node:http";
import type { ResourceType } from "./catalog.js";
import type { Obj } from "./fieldset.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import type { Store } from "./store.js";

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
    if (!w.resourceVersion || w.resourceVersion === "0") {
      for (const o of store.list(w.type, w.namespace, w.labelSelector, w.fieldSelector)) send("ADDED", o);
    }
    const unsubscribe = store.subscribe((e) => {
      if (e.ref.type !== w.type || (w.namespace !== undefined && e.ref.namespace !== w.namespace)) return;
      if (matches(e.object)) send(e.type, e.object);
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
