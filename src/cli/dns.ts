// `amphi dns --env E`: mesh-dns. Registered service names (and `<name>.<domain>`) resolve to the mesh
// service IP, every other name is forwarded to the upstream resolvers. Runs until SIGINT/SIGTERM.
import type { Command } from "@commander-js/extra-typings";
import { InputError, type EnvironmentModel } from "../model/index.js";
import { DEFAULT_TTL, zoneSettings } from "../dns/index.js";
import {
  ConsulCatalog, formatUpstream, listenProblem, parseUpstream, redact, runMeshDns, systemUpstreams, udpIoSetting, type Upstream, type UdpIoSetting,
} from "../adapters/dns-server/index.js";
import { repoOptions } from "./options.js";
import { EXIT, loadRepo, runAction, type Io } from "./common.js";
import { findEnv } from "./context.js";

/** Options of `amphi dns`. */
interface DnsOptions {
  env: string;
  repo?: string;
  rev?: string;
  listen: string[];
  port?: string;
  upstream: string[];
  consul?: string;
  ttl: string;
  upstreamTimeout: string;
  allowOpenResolver?: boolean;
  debug?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Registers `amphi dns` on the program. */
export function dnsCommand(program: Command, io: Io, setCode: (code: number) => void, signal: AbortSignal): void {
  const cmd = program
    .command("dns")
    .description("run mesh-dns: service names from Consul resolve to the mesh service IP, other names go upstream")
    .requiredOption("--env <env>", "environment whose mesh and Consul settings to use");
  repoOptions(cmd)
    .option("--listen <address>", "IP address to listen on, UDP and TCP (repeatable; default 127.0.0.1)", collect, [] as string[])
    .option("--port <port>", "port to listen on (default: the environment's mesh.dnsPort, 15053)")
    .option("--upstream <ip[:port]>", "resolver for other names (repeatable; default: mesh.dnsUpstreams, else /etc/resolv.conf)", collect, [] as string[])
    .option("--consul <url>", "Consul HTTP API (default: the environment's consul.address)")
    .option("--ttl <seconds>", "TTL of mesh answers", String(DEFAULT_TTL))
    .option("--upstream-timeout <ms>", "time for a forwarded query, all upstreams tried, before SERVFAIL", "2000")
    .option("--allow-open-resolver", "allow listening on the wildcard or a public address")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts: DnsOptions) => {
      setCode(await runAction(io, opts.debug, () => dns(io, opts, signal)));
    });
}

async function dns(io: Io, opts: DnsOptions, signal: AbortSignal): Promise<number> {
  const env = findEnv(await loadRepo(io, opts), opts.env);
  const listen = opts.listen.length > 0 ? opts.listen : ["127.0.0.1"];
  for (const address of listen) {
    const problem = listenProblem(address, opts.allowOpenResolver === true);
    if (problem) throw new InputError(problem);
  }
  const port = integer(opts.port ?? String(env.mesh.dnsPort), "--port", 0, 65535);
  const ttl = integer(opts.ttl, "--ttl", 0, 2 ** 31 - 1);
  const timeoutMs = integer(opts.upstreamTimeout, "--upstream-timeout", 1, 600_000);
  const udpIo = ioSetting(io.env.AMPHI_DNS_IO);
  const { upstreams, notes } = chooseUpstreams(opts, env, listen);
  const log = (line: string): void => io.err(`amphi dns: ${line}\n`);
  notes.forEach(log);
  if (upstreams.length === 0) log("no upstream resolvers: names outside the mesh get SERVFAIL");
  const address = opts.consul ?? env.consul.address;
  const token = env.consul.tokenEnv ? io.env[env.consul.tokenEnv] || null : null;
  // Why not fail: host DNS is redirected here; a missing token must not take name resolution down with it.
  if (env.consul.tokenEnv && !token) log(`${env.consul.tokenEnv} (consul.tokenEnv) is not set: reading the catalog without a token`);
  await runMeshDns(
    {
      zone: zoneSettings(env.mesh, ttl),
      server: { listen, port, upstreams, upstreamTimeoutMs: timeoutMs, udpIo },
      catalog: new ConsulCatalog({ address, datacenter: env.consul.datacenter, token }),
      log,
      onListening(bound, server, sync) {
        const where = bound.map((b) => (b.address.includes(":") ? `[${b.address}]:${b.port}` : `${b.address}:${b.port}`)).join(", ");
        const zone = server.currentZone();
        const source =
          sync.state === "failed" ? `empty zone, catalog ${redact(address)} unreachable (${sync.error.message}), retrying`
          : sync.state === "pending" ? `empty zone until catalog ${redact(address)} answers`
          : `zone ${zone.size} service${zone.size === 1 ? "" : "s"} from ${redact(address)}`;
        log(`listening on ${where} (udp, tcp) for ${env.name}: ${source}; mesh IP ${env.mesh.serviceIP}, domain ${env.mesh.domain}; upstreams ${upstreams.map(formatUpstream).join(", ") || "none"}`);
      },
    },
    signal,
  );
  return EXIT.ok;
}

/** `--upstream` flags, else the environment's `mesh.dnsUpstreams`, else /etc/resolv.conf. */
function chooseUpstreams(opts: DnsOptions, env: EnvironmentModel, listen: string[]): { upstreams: Upstream[]; notes: string[] } {
  const given = opts.upstream.length > 0 ? opts.upstream : env.mesh.dnsUpstreams;
  if (given.length === 0) return systemUpstreams(listen);
  try {
    return { upstreams: given.map(parseUpstream), notes: [] };
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

/** AMPHI_DNS_IO (batch, dgram, auto), as an input error when it is none of them. */
function ioSetting(value: string | undefined): UdpIoSetting {
  try {
    return udpIoSetting(value);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

function integer(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(`${flag} must be an integer from ${min} to ${max}, not "${value}"`);
  return n;
}
