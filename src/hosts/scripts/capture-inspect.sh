# capture-inspect.sh: reads a host's capture rules (run alone, without lib.sh: `sh -c SCRIPT amphi`).
# Finds the binaries (non-login shells of unprivileged users often lack the sbin directories), decides
# how to run them (root, else `sudo -n` if it may run iptables-save), prints the mode, iptables-restore's
# version (for --wait) and the nat and raw tables, each after a `#amphi-table NAME` line.
# Exit codes: 20 a binary is missing (named on stderr), 21 not root and no sudo -n, 22 iptables-save failed.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
for b in iptables-restore iptables-save iptables; do
  command -v "$b" >/dev/null 2>&1 || { printf '%s\n' "$b" >&2; exit 20; }
done
# The effective uid from /proc/self/status, read by the shell itself (this runs at every plan of every host: no
# process for it), else id -u.
uid=""
if [ -r /proc/self/status ]; then
  while read -r k _ e _; do
    if [ "$k" = Uid: ]; then uid=$e && break; fi
  done </proc/self/status
fi
[ -n "$uid" ] || uid=$(id -u)
if [ "$uid" = 0 ]; then
  mode=root
elif command -v sudo >/dev/null 2>&1 && sudo -n iptables-save -t nat >/dev/null 2>&1; then
  mode=sudo
else
  exit 21
fi
run() { if [ "$mode" = sudo ]; then sudo -n "$@"; else "$@"; fi; }
printf 'mode %s\n' "$mode"
# its first line, cut by the shell (no head, no pipe)
v=$(iptables-restore --version 2>&1)
nl='
'
printf 'version %s\n' "${v%%"$nl"*}"
for t in nat raw; do
  printf '#amphi-table %s\n' "$t"
  run iptables-save -t "$t" || exit 22
done
