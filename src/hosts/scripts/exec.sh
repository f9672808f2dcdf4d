#!/bin/sh
# amphi-exec: runs one release of an app in the foreground, with its environment, start command and
# run-as user. Installed by amphi as BASE/bin/amphi-exec (do not edit); run by amphi-supervise and by
# amphi's systemd units:
#   sh BASE/bin/amphi-exec RELEASE_DIR
# RELEASE_DIR/.amphi/ holds what amphi wrote for the release: env (KEY='value' lines, mode 600, read
# here as root before privileges are dropped), start (the start command, run by /bin/sh -c), user
# (run-as user, or empty for the user amphi logs in as).
cd "$1" || exit 1
set -a
# shellcheck disable=SC1091 # written by amphi for this release
. ./.amphi/env || exit 1
set +a
start=$(cat ./.amphi/start) || exit 1
user=$(cat ./.amphi/user 2>/dev/null) || user=""
if [ -n "$user" ] && [ "$(id -u)" = 0 ]; then
  if ! uid=$(id -u "$user") || ! gid=$(id -g "$user"); then
    echo "amphi-exec: no user $user on this host" >&2
    exit 1
  fi
  home=$(awk -F: -v u="$user" '$1 == u { print $6 }' /etc/passwd)
  export USER="$user" LOGNAME="$user" HOME="${home:-/}"
  if command -v setpriv >/dev/null 2>&1; then
    exec setpriv --reuid="$uid" --regid="$gid" --init-groups /bin/sh -c "$start"
  elif command -v runuser >/dev/null 2>&1; then
    exec runuser -u "$user" -- /bin/sh -c "$start"
  else
    exec su -s /bin/sh -c "$start" "$user"
  fi
fi
exec /bin/sh -c "$start"
