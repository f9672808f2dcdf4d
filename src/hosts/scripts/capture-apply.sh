# capture-apply.sh MODE WAIT HOOK...: installs capture rules (run alone, without lib.sh).
# MODE = root|sudo, WAIT = --wait or an empty string, then one argument per hook: table, chain and the
# rule's tokens separated by tabs (split here with IFS=tab and globbing off, so no value is ever parsed as
# shell syntax). stdin = the restore input. Exit codes: 10 the restore failed, 11 a hook could not be
# inserted. Prints `inserted <table> <chain> <rule>` for each hook it had to insert.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
mode=$1 wait=$2
shift 2
run() { if [ "$mode" = sudo ]; then sudo -n "$@"; else "$@"; fi; }
if [ -n "$wait" ]; then
  run iptables-restore --noflush "$wait" || exit 10
else
  run iptables-restore --noflush || exit 10
fi
ifs=$IFS
tab=$(printf '\t')
hook() {
  IFS=$ifs
  t=$1 c=$2
  shift 2
  run iptables -w -t "$t" -C "$c" "$@" 2>/dev/null && return 0
  run iptables -w -t "$t" -I "$c" 1 "$@" || exit 11
  printf 'inserted %s %s %s\n' "$t" "$c" "$*"
}
set -f
for h do
  IFS=$tab
  # shellcheck disable=SC2086 # split on tabs into table, chain and tokens
  hook $h
done
