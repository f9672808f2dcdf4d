// The `uri` format of the generated schema validators: RFC 3986, as ajv-formats checks it, with a fast path.
// ajv-formats' one regular expression covers every form of URI (IPv6 and IPvFuture hosts, user info, relative
// forms); V8 compiles it on first use, ~9 ms of every run whose config has a package URL. Nearly every URL in a
// config is http(s) with a plain host name, so those are checked by a short expression of that subset first, and
// only what it rejects goes to the full one (loaded then): the same strings are accepted either way.
import { createRequire } from "node:module";

/** `http(s)://host[:port][/path][?query][#fragment]` with a host of letters, digits, `-`, `.`, `_` and `~`: a
 * sublanguage of RFC 3986 (its `//` authority with a reg-name host, path-abempty, query and fragment). */
const PLAIN_HTTP_URL =
  /^https?:\/\/[a-z0-9\-._~]*(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*(?:\?(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?$/i;

let full: ((s: string) => boolean) | null = null;

/** Whether `s` is a URI (RFC 3986) as ajv-formats' `uri` format says. */
export function uri(s: string): boolean {
  if (PLAIN_HTTP_URL.test(s)) return true;
  full ??= (createRequire(import.meta.url)("ajv-formats/dist/formats") as { fullFormats: { uri: (s: string) => boolean } }).fullFormats.uri;
  return full(s);
}
