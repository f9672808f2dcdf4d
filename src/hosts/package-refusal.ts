// Why a host refused a package (install.sh exit 4: tar cannot unpack it, or it unpacks past the host
// group's maxUnpackedSize), as one message naming the package and the reason.
import type { HostInstance } from "../model/index.js";

/** Bytes an archive may unpack to on a host whose group sets no maxUnpackedSize (4 GiB). */
export const DEFAULT_MAX_UNPACKED_SIZE = 4 * 1024 ** 3;

/** Why the host refused a package (install.sh exit 4), e.g. `package packages/billing.tgz (sha256
 * 5d3785d58a31…) unpacks to 5.0 GiB (5368709120 bytes), more than maxUnpackedSize 4.0 GiB of host group
 * legacy; refused and removed from the host`. */
export function refusal(group: string, instance: HostInstance, f: Record<string, string>, limit: number): string {
  const pkg = `package ${packageName(instance)} (sha256 ${instance.sha256.slice(0, 12)}…)`;
  if (f.refused === "size") {
    const size = Number(f.size);
    return `${pkg} unpacks to ${bytes(size)} (${size} bytes), more than maxUnpackedSize ${bytes(limit)} of host group ${group}; refused and removed from the host`;
  }
  return `cannot unpack ${pkg}: ${f.reason ?? "tar failed"}; removed it from the host`;
}

/** The package as the spec names it: its repo path, or its URL without credentials or query. */
function packageName(instance: HostInstance): string {
  if ("path" in instance.package) return instance.package.path;
  try {
    const u = new URL(instance.package.url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/** `12.0 MiB`: bytes in the largest binary unit that keeps the number at least 1. */
function bytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}
