// Option groups several commands share, declared once so that their names, defaults and help read the same
// everywhere. Each adds its options to a command and keeps the command's option types.
import type { Command, OptionValues } from "@commander-js/extra-typings";
import { InputError } from "../model/index.js";

/** `--repo` and `--rev`: the config repo and the Git revision read from it. `verb` says what the command does
 * with that revision (`read`, `apply`). */
export function repoOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>, verb = "read") {
  return cmd
    .option("--repo <dir>", "config repo directory (default: current directory)")
    .option("--rev <rev>", `${verb} this Git revision of the repo instead of the working tree`);
}

/** `--parallel`, `--accept-new-host-keys` and `--kubeconfig`: how hosts and clusters are reached. `parallel`
 * says what the bound is on (`hosts read at once`, `hosts worked on at once`). */
export function reachOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>, parallel: string) {
  return cmd
    .option("--parallel <n>", parallel, "10")
    .option("--accept-new-host-keys", "trust and record host keys of hosts not yet in known_hosts")
    .option("--kubeconfig <file>", "kubeconfig for the clusters' contexts (default: KUBECONFIG or ~/.kube/config)");
}

/** A listen address, the one parser of every `--*listen` flag: `host:port`, `[v6]:port`, or `:port` (all IPv4
 * addresses); port 0 binds any free port. `bind` is the form servers take (`0.0.0.0:0`, `[::1]:8080`). Throws an
 * InputError naming `flag`, with `example`. */
export function parseListen(text: string, flag = "--listen", example = "127.0.0.1:8080"): { host: string; port: number; bind: string } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InputError(`${flag} must be ADDR:PORT (e.g. ${example}), not "${text}"`);
  const host = m[1] ?? (m[2] || "0.0.0.0");
  return { host, port, bind: m[1] !== undefined ? `[${host}]:${port}` : `${host}:${port}` };
}
