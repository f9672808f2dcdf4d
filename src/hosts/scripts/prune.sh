# prune.sh GRACE BYTES WRITE KEEP...: holding the app's lock (lock_app GRACE; a temp dir
# of releases/ is otherwise the unpacking of a killed run's install that goes on), with BYTES and WRITE
# (state-file.ts's STATE_WRITE_SH; both empty: no record), first records state.json from stdin (BYTES bytes),
# exit 5 when that fails, before anything is removed; then removes the app's releases other than KEEP (the
# current and previous one), then every cached package that no release of any app on the host was unpacked from.
lock_app "$1"
if [ -n "$2" ]; then run_sh "$3" "$BASE" "$2" || exit 5; fi
shift 3
for d in "$APPDIR"/releases/* "$APPDIR"/releases/.tmp.*; do
  [ -d "$d" ] || continue
  name=${d##*/}
  keep=0
  for k in "$@"; do
    if [ "$k" = "$name" ]; then keep=1; fi
  done
  if [ "$keep" = 0 ]; then
    rm -rf "$d" && printf 'removed=apps/%s/releases/%s\n' "$APP" "$name"
  fi
done
prune_packages
