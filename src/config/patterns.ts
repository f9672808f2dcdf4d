// Name and value patterns shared by the schemas and the rules, with the message each one deserves.

/** A DNS label. Names of apps, services, hosts, clusters, groups and environments reach shell commands,
 * file paths, Kubernetes object names and DNS names; this pattern keeps `;`, `/`, `..` and spaces out. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A package version. It names a release directory on the hosts (`<baseDir>/apps/<app>/releases/<version>-<sha8>`):
 * no `/`, no `..`, no leading `-` or `.` (options, hidden files), nothing a shell or path would read twice. */
export const SAFE_VERSION = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** Patterns as written in the schemas → what to tell the user when a value does not match. */
const MESSAGES: Record<string, (v: string) => { message: string; hint?: string }> = {
  [DNS_LABEL.source]: dnsLabelMessage,
  [SAFE_VERSION.source]: versionMessage,
  "^[A-Za-z_][A-Za-z0-9_]*$": (v) => ({ message: `${q(v)} is not an environment variable name (letters, digits and "_", not starting with a digit)` }),
  "^(?!.*--)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$": (v) => ({
    message: `${q(v)} is not a port name (at most 15 lowercase letters, digits and "-", with at least one letter)`,
    hint: "Kubernetes rejects longer port names",
  }),
  "^[0-9]+(ms|s|m|h)$": (v) => ({ message: `${q(v)} is not a duration`, hint: "write a whole number and a unit: 500ms, 15s, 5m, 1h" }),
  "^[1-9][0-9]*(ms|s|m|h)$": (v) => ({
    message: /^0+(ms|s|m|h)$/.test(v) ? `${q(v)} must be longer than zero` : `${q(v)} is not a duration`,
    hint: "write a whole number above zero and a unit: 500ms, 2s, 1m",
  }),
  "^[1-9][0-9]{0,5}(KiB|MiB|GiB|TiB)$": (v) => ({ message: `${q(v)} is not a size`, hint: "write a whole number and a unit: 512MiB, 4GiB" }),
  "^[0-9a-fA-F]{64}$": (v) => ({ message: `sha256 must be 64 hex digits, got ${v.length} characters`, hint: "compute it with `sha256sum <file>`" }),
  "^/": (v) => ({ message: `${q(v)} must start with "/"` }),
  "^https?://": (v) => ({ message: `${q(v)} must be an http:// or https:// URL` }),
  "^[a-z_][a-z0-9_-]*[$]?$": (v) => ({ message: `${q(v)} is not a Unix user name (lowercase letters, digits, "_" and "-")` }),
  "^[A-Z][A-Za-z0-9]*$": (v) => ({ message: `${q(v)} is not a Kubernetes kind`, hint: "e.g. Deployment, Service" }),
  "^[^/\\s]+(/[^/\\s]+)+$": (v) => ({ message: `${q(v)} is not a repository path`, hint: "write owner/name" }),
  "^[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?:[0-9]{1,5}$": (v) => ({ message: `${q(v)} is not a host:port address`, hint: "e.g. amphi-xds.internal:18000 or 10.0.0.5:18000" }),
  "[^0-9.]": (v) => ({ message: `${q(v)} is not an IPv4 address or a hostname` }),
};

/** The message for a value failing `pattern` (or the maxLength that goes with it), or null if unknown. */
export function patternMessage(pattern: string | undefined, value: unknown): { message: string; hint?: string } | null {
  const make = pattern === undefined ? undefined : MESSAGES[pattern];
  return make && typeof value === "string" ? make(value) : null;
}

/** The message for a name that is not a DNS label, e.g. `"vm;rm" is not a DNS label (…)`. */
export function dnsLabelMessage(value: string): { message: string; hint?: string } {
  const message = `${q(value)} is not a DNS label (lowercase letters, digits and "-", at most 63)`;
  if (value.length > 63) return { message, hint: `it has ${value.length} characters` };
  const lower = value.toLowerCase();
  if (lower !== value && DNS_LABEL.test(lower)) return { message, hint: `use lowercase: "${lower}"` };
  return { message };
}

/** The message for a version that is not {@link SAFE_VERSION}. */
export function versionMessage(value: string): { message: string; hint?: string } {
  const rule = `letters, digits, ".", "_", "+" and "-", starting with a letter or digit, no "..", at most 128 characters`;
  return { message: `${q(value)} is not a safe version (${rule})`, hint: "it names a release directory on the hosts" };
}

function q(v: string): string {
  return JSON.stringify(v.length > 60 ? v.slice(0, 57) + "…" : v);
}
