#!/bin/sh
# amphi-exec: runs one release of an app in the foreground, with its environment, start command and
# run-as user. Installed by amphi as BASE/bin/amphi-exec (do not edit); run by amphi-supervise and by
# amphi's systemd units:
#   sh BASE/bin/amphi-exec RELEASE_DIR
# RELEASE_DIR/.amphi/ holds what amphi wrote for the release: env (KEY='value' lines, mode 600, read
# here as root before privileges are dropped), start (the start command, run by /bin/sh -c), user
# (run-as user, or empty for the user amphi logs in as).
cd -P "$1" || exit 1
rel=$PWD
# .amphi/ is read here as root (for an app with a run-as user): it must be the directory amphi made, not a link
# and owned by whoever runs this, because the release directory itself belongs to the run-as user, who could
# otherwise put a .amphi/ of their own in its place and have its env and start command run as root. The checks
# are made on the directory as entered (cd -P), and its files are read from there.
if ! cd -P ./.amphi 2>/dev/null || [ "$PWD" != "$rel/.amphi" ] || [ ! -O . ]; then
  echo "amphi-exec: $rel/.amphi is not amphi's (a link, or owned by another user); not starting $rel" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1091 # written by amphi for this release
. ./env || exit 1
set +a
# slurp FILE: sets text to FILE's contents without its trailing newlines, as $(cat FILE) would, with the
# shell's own read (no process for these small files); status 1 when FILE cannot be read.
nl='
'
slurp() {
  text="" _sep=""
  { while IFS= read -r _l || [ -n "$_l" ]; do
    text="$text$_sep$_l"
    _sep=$nl
  done <"$1"; } 2>/dev/null || return 1
  while :; do case $text in *"$nl") text=${text%"$nl"} ;; *) break ;; esac; done
}
slurp ./start || exit 1
start=$text
if slurp ./user; then user=$text; else user=""; fi
cd "$rel" || exit 1
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
