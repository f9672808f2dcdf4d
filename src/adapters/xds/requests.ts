// DiscoveryRequests and DiscoveryResponses cheaply at scale. Responses: the thousands of streams that get one
// selection of resources (every sidecar's CDS, or its EDS naming every cluster) get one encoding of it, and each
// response adds only its nonce (protobuf fields may be concatenated). Requests: a sidecar repeats the names of every cluster it watches (EDS) in
// each ACK, and thousands of sidecars name the same clusters. The names are read once per distinct list (a hash
// of their bytes finds the list decoded before) and the decoded list is shared, so an ACK costs a hash of its bytes
// instead of a thousand new strings, and thousands of streams hold one list, not one each.
import { createHash } from "node:crypto";
import protobuf from "protobufjs";

/** Field 3 (`resource_names`, repeated string) as its tag byte: field number 3, wire type 2. */
const NAMES_TAG = (3 << 3) | 2;
/** Distinct name lists kept; the cache is emptied when it grows past this (lists in use stay with their streams). */
const MAX_LISTS = 1024;

/** Wraps a DiscoveryRequest deserializer: `resource_names` comes from a cache of decoded lists. */
export function sharedNamesDeserializer<T extends { resource_names?: string[] }>(inner: (bytes: Buffer) => T): (bytes: Buffer) => T {
  const lists = new Map<string, string[]>();
  return (bytes) => {
    const reader = protobuf.Reader.create(bytes);
    const names: [number, number][] = [];
    const rest: [number, number][] = [];
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      if (tag === NAMES_TAG) {
        reader.skip(reader.uint32());
        // Consecutive names (the usual case) make one range: one hash update, one slice.
        const last = names[names.length - 1];
        if (last && last[1] === start) last[1] = reader.pos;
        else names.push([start, reader.pos]);
      } else {
        reader.skipType(tag & 7);
        rest.push([start, reader.pos]);
      }
    }
    if (names.length === 0) return inner(bytes);
    const message = inner(Buffer.concat(rest.map(([a, b]) => bytes.subarray(a, b))));
    const hash = createHash("sha1");
    for (const [a, b] of names) hash.update(bytes.subarray(a, b));
    const key = hash.digest("base64");
    let list = lists.get(key);
    if (!list) {
      list = names.flatMap(([a, b]) => {
        const r = protobuf.Reader.create(bytes.subarray(a, b));
        const out: string[] = [];
        while (r.pos < r.len) {
          r.uint32();
          out.push(r.string());
        }
        return out;
      });
      if (lists.size >= MAX_LISTS) lists.clear();
      lists.set(key, list);
    }
    message.resource_names = list;
    return message;
  };
}

/** Wraps a DiscoveryResponse serializer: the fields but the nonce are encoded once per `resources` array (shared
 * by every response made from one selection: same version, same type), the nonce appended per response. */
export function sharedBodySerializer<T extends { nonce: string; resources: readonly unknown[] }>(inner: (message: T) => Buffer): (message: T) => Buffer {
  const bodies = new WeakMap<readonly unknown[], Buffer>();
  return (message) => {
    let body = bodies.get(message.resources);
    if (!body) {
      body = inner({ ...message, nonce: "" });
      bodies.set(message.resources, body);
    }
    return Buffer.concat([body, inner({ nonce: message.nonce, resources: [] } as unknown as T)]);
  };
}
