# inspect.sh RELEASE SHA RUNAS [DUMP]: what deploy needs to know before it changes anything (read-only); with
# DUMP (state-file.ts's STATE_DUMP_SH), then a line `state` and state.json with its backup, so one round trip
# brings both.
release=$1 sha=$2 runas=$3 dump=${4:-}
printf 'uid=%s\n' "$UID_NOW"
# the login user's name matters only to an app that runs as a user of its own (no id process otherwise)
if [ -n "$runas" ]; then
  printf 'user=%s\n' "$(id -un 2>/dev/null)"
  printf 'runas_uid=%s\n' "$(id -u "$runas" 2>/dev/null)"
fi
if use_systemd; then echo "supervisor=systemd"; else echo "supervisor=sh"; fi
if [ -d "$BASE" ]; then echo "base=1"; else echo "base=0"; fi
if [ -d "$BASE/packages" ]; then echo "packages=1"; else echo "packages=0"; fi
if [ -f "$BASE/packages/$sha" ]; then echo "cached=1"; else echo "cached=0"; fi
if [ -d "$APPDIR/releases/$release" ]; then echo "release=1"; else echo "release=0"; fi
find_current
printf 'current=%s\n' "$CURRENT"
printf 'pid=%s\n' "$(app_pid)"
if [ -n "$dump" ]; then
  echo "state"
  run_sh "$dump" "$BASE"
fi
