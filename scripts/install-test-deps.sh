#!/usr/bin/env bash
# Installs the Debian packages amphi's tests need (sshd test hosts in network namespaces, iptables
# inside them, DNS tools, headless Chromium for the HTML report test). CI runs on a fresh machine, so this script — not a hand install — is what
# makes them present.
#
# Idempotent and fast when everything is there: it first looks for the binaries and only calls apt
# when one is missing (then `apt-get update` once and one `apt-get install`). Before installing it
# prints each missing program, its package and which tests need it. It never starts the
# system sshd or dnsmasq service: installs run under a policy-rc.d that forbids service starts.
#
# Usage: bash scripts/install-test-deps.sh        (as root when something is missing)
set -euo pipefail

# Binaries live in /usr/sbin for several of these packages; a non-login root shell may lack it.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { printf 'install-test-deps: %s\n' "$*"; }
die() { printf 'install-test-deps: error: %s\n' "$*" >&2; exit 1; }

# binary:Debian package:why (which tests need it; printed before anything is installed). sshd is checked by
# absolute path: it must be re-executed by absolute path anyway and test helpers use /usr/sbin/sshd.
wanted=(
  "/usr/sbin/sshd:openssh-server:the sshd test hosts in network namespaces (test/support/netns-hosts.ts): test/hosts, test/hosts-infra, test/integration/*-ssh, test/loop/e2e-remote, test/mesh-e2e, test/secrets/ssh-hosts, test/transport"
  "ssh:openssh-client:amphi's SSH transport and the tests' own logins to the netns hosts (same tests as sshd)"
  "ssh-keygen:openssh-client:host and client keys of the netns hosts; test/transport/ssh-known-hosts, test/loop/unreachable"
  "ip:iproute2:network namespaces for test hosts and stand-in pods (ip netns): every netns test, test/envoy-double, test/pods"
  "iptables:iptables:the capture rules checked in namespaces: test/hosts/capture*, test/pods"
  "iptables-restore:iptables:amphi applies capture rules with it: test/hosts/capture*, test/envoy-double, test/mesh-e2e"
  "dig:dnsutils:DNS questions to amphi dns and the host mesh-dns: test/dns/server, test/hosts/mesh-dns, test/hosts/capture, test/envoy-double/data-path"
  "dnsmasq:dnsmasq-base:the upstream resolver of amphi dns in tests (test/dns/server, test/hosts/mesh-dns) and the reference of bench/dns"
  "dnsperf:dnsperf:bench/dns only (no test needs it)"
  "curl:curl:the host reporter script (src/hosts/scripts/reporter.sh) on test hosts, and the test clients of test/envoy-double/e2e, test/mesh-e2e, test/hosts/reporter"
  "conntrack:conntrack:capture rules flush conntrack on test hosts: test/hosts/capture; the Envoy double's original-destination lookup"
  "nsenter:util-linux:entering the netns hosts' namespaces: test/support/netns-hosts.ts, test/hosts/capture"
  "hostname:hostname:lock owners and host names: test/hosts-infra, test/loop/abandoned, test/loop/apply-lock"
  "shellcheck:shellcheck:lints the POSIX sh scripts amphi runs on hosts: test/hosts/scripts"
  "busybox:busybox:hosts with a busybox userland instead of GNU: test/hosts/host-variants, test/hosts/archives, test/hosts/scripts, test/support/local-host.ts"
  "setpriv:util-linux:processes as another uid (the sidecar's proxy uid, the apps' user): test/envoy-double, test/mesh-e2e, test/hosts/capture, test/support/local-host.ts"
  # secrets in the config repo: tests encrypt fixtures with the real age CLI (amphi decrypts with age-encryption)
  "age:age:encrypting the secrets fixtures with the real age CLI: test/secrets"
  "gpg:gpg:unwrapping the data key of the SOPS file written by real sops (PGP test key): test/secrets/upstream"
  # ~25 s to install (113 MB download, 414 MB on disk with its 25 libraries; bookworm-security 156, --no-install-recommends).
  "chromium:chromium:the drift report in headless Chromium: test/report/html-chromium (fails without it when CI=true)"
  # Not in Debian's archive: the package comes from Google Cloud's or Kubernetes' apt repository when one is configured.
  "kubectl:kubectl:the real kubectl against the kube-apiserver double: test/kube, test/kube-double, test/integration/apply-mesh, apply-mixed, test/secrets/apply, test/plan, test/xds"
)

missing_pkgs=()
missing_bins=()
missing_why=()
for entry in "${wanted[@]}"; do
  bin="${entry%%:*}" rest="${entry#*:}"
  pkg="${rest%%:*}" why="${rest#*:}"
  if ! command -v "$bin" >/dev/null 2>&1; then
    missing_bins+=("$bin")
    missing_why+=("$bin (package $pkg): $why")
    # de-duplicate packages (openssh-client provides two of the binaries)
    if [[ " ${missing_pkgs[*]-} " != *" $pkg "* ]]; then missing_pkgs+=("$pkg"); fi
  fi
done

if [[ ${#missing_pkgs[@]} -eq 0 ]]; then
  log "all present (${wanted[*]%%:*}); nothing to do"
  exit 0
fi

log "missing, and what needs it:"
for line in "${missing_why[@]}"; do log "  $line"; done
log "packages to install: ${missing_pkgs[*]}"
[[ $(id -u) -eq 0 ]] || die "not root: cannot install ${missing_pkgs[*]}; run this script as root (tests that need them will be skipped or fail)"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing_pkgs[*]} by hand"

# Wait for a concurrent apt/dpkg run (another test run on the same machine) instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)

log "apt-get update"
apt-get "${apt_opts[@]}" update -qq || die "apt-get update failed"

# Resolve each package to a name this Debian release has (dnsutils became a transitional package for
# bind9-dnsutils; prefer the given name, fall back to the alternative).
has_candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  [[ -n "$c" && "$c" != "(none)" ]]
}
resolved=()
for pkg in "${missing_pkgs[@]}"; do
  if has_candidate "$pkg"; then resolved+=("$pkg"); continue; fi
  case "$pkg" in
    dnsutils) alt=bind9-dnsutils ;;
    *) alt="" ;;
  esac
  hint=""
  [[ "$pkg" == kubectl ]] && hint=" (add Google Cloud's or pkgs.k8s.io's apt repository, or put a kubectl on PATH)"
  if [[ -n "$alt" ]] && has_candidate "$alt"; then
    log "$pkg has no candidate here; using $alt"
    resolved+=("$alt")
  else
    die "package $pkg is not available from the configured apt sources$hint"
  fi
done

# Forbid service starts during the install: Debian maintainer scripts start openssh-server's `ssh`
# service through invoke-rc.d, which asks /usr/sbin/policy-rc.d first (exit 101 = not allowed).
# Docker-style images often ship one already; only add (and later remove) ours if there is none.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary, from amphi scripts/install-test-deps.sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  created_policy=1
  log "installed a temporary $policy (no service starts during install)"
else
  log "$policy present; relying on it to keep services stopped"
fi
cleanup_policy() { if [[ -n "$created_policy" ]]; then rm -f "$policy"; fi; }
trap cleanup_policy EXIT

log "apt-get install ${resolved[*]}"
DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${resolved[@]}" \
  || die "apt-get install ${resolved[*]} failed"

# sshd's privilege-separation directory; normally made by the (never started) service.
mkdir -p /run/sshd && chmod 0755 /run/sshd

still_missing=()
for entry in "${wanted[@]}"; do
  bin="${entry%%:*}"
  command -v "$bin" >/dev/null 2>&1 || still_missing+=("$bin")
done
[[ ${#still_missing[@]} -eq 0 ]] || die "still missing after install: ${still_missing[*]}"

log "installed ${resolved[*]}"
