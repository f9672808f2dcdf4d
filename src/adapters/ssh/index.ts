// The ssh transport: HostRef → HostSession over one reused SSH connection per host (TCP_NODELAY,
// keepalive, host keys checked against known_hosts and refused when unknown or changed, optional
// ProxyJump); argv in, exit code and output out, files streamed in atomically.
export { SshConnector, type SshConnectorOptions } from "./connector.js";
export { SshSession, MAX_CHANNELS } from "./session.js";
export { commandLine, shellQuote } from "./quote.js";
export { checkHostKey, fingerprint, hostMatches, knownHostsName, parseKnownHosts, type HostKeyVerdict, type KnownHostEntry } from "./known-hosts.js";
