# capture-inspect.sh: reads a host's capture rules (run after uid.sh, without lib.sh: `sh -c SCRIPT amphi`).
# Finds the binaries (non-login shells of unprivileged users often lack the sbin directories), decides
# how to run them (root, else `sudo -n` if it may run iptables-save), prints the mode, iptables-restore's
# version (for --wait) and the nat and raw tables, each after a `#amphi-table NAME` line.
# Exit codes: 20 a binary is missing (named on stderr), 21 not root and no sudo -n, 22 iptables-save failed.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
for b in iptables-restore iptables-save iptables; do
  command -v "$b" >/dev/null 2>&1 || { printf '%s\n' "$b" >&2; exit 20; }
done
# UID_NOW: uid.sh, which amphi puts before this script (this runs at every plan of every host: no process for it)
if [ "$UID_NOW" = 0 ]; then
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
