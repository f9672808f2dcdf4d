# prune.sh KEEP...: removes the app's releases other than KEEP (the current and previous one), then
# every cached package that no release of any app on the host was unpacked from.
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
