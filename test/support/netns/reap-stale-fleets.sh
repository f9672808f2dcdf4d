#!/usr/bin/env bash
# Lists (and with --delete removes) sshd test fleets left behind by test processes that died without
# cleaning up (SIGKILL, a crashed runner). A fleet belongs to the process whose pid is in its names
# (test/support/netns-hosts.ts: namespaces amphi-<pid>-<rand>-ctl / -h<i>, temp dir
# /tmp/amphi-fleet-<pid>-<rand>-*); only fleets whose owner pid no longer exists are touched, so
# fleets of runs still going on this machine are left alone.
#
# Usage: bash test/support/netns/reap-stale-fleets.sh [--delete]     (as root)
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
delete=""
[[ "${1-}" == "--delete" ]] && delete=1

stale=0
for ns in $(ip netns list | awk '{print $1}' | grep -E '^amphi-[0-9]+-[0-9a-f]+-(ctl|h[0-9]+|pod)$' || true); do
  pid=$(cut -d- -f2 <<<"$ns")
  if kill -0 "$pid" 2>/dev/null; then continue; fi
  stale=$((stale + 1))
  echo "stale: netns $ns (owner pid $pid is gone)"
  if [[ -n "$delete" ]]; then
    # Everything in the namespace belongs to the dead fleet; its sshd is pid 1 of its own pid
    # namespace, so killing it takes the rest of the host along.
    for p in $(ip netns pids "$ns"); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" || true # also removes its veths, and with -ctl the root-namespace veth
  fi
done
for dir in "${TMPDIR:-/tmp}"/amphi-fleet-* "${TMPDIR:-/tmp}"/amphi-pod-*; do
  [[ -d "$dir" ]] || continue
  pid=$(basename "$dir" | cut -d- -f3)
  if kill -0 "$pid" 2>/dev/null; then continue; fi
  stale=$((stale + 1))
  echo "stale: temp dir $dir (owner pid $pid is gone)"
  if [[ -n "$delete" ]]; then rm -rf "$dir"; fi
done
if [[ $stale -eq 0 ]]; then echo "no stale fleets"; elif [[ -z "$delete" ]]; then echo "run with --delete to remove them"; fi
