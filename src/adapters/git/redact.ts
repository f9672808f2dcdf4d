// Credentials in repository URLs (`https://user:token@host/…`) must never reach a log line, an error,
// a run record or an HTTP answer: every message about a source passes through here.

/** The URL without its userinfo (`https://tok@host/r.git` → `https://host/r.git`); scp-like `user@host:path`
 * keeps its user (that is a login name, not a secret). Not a URL → returned as is. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

/** `text` with `secrets` (the raw URL and anything that looks like URL userinfo) removed. */
export function redactText(text: string, secrets: string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (!s) continue;
    const clean = redactUrl(s);
    if (clean !== s) out = out.split(s).join(clean);
  }
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s'"]*@/gi, "$1");
}
