#!/bin/sh
# amphi-supervise: keeps one app running on a host without systemd. Installed by amphi as
# BASE/bin/amphi-supervise (rewritten when amphi's copy differs; do not edit) and started detached,
# one per app, by amphi's host tasks:
#   setsid sh BASE/bin/amphi-supervise BASE APP GRACE </dev/null >>BASE/logs/APP.log 2>&1 &
# It records its pid in run/APP.supervisor.pid and the app's in run/APP.pid, runs BASE/apps/APP/current
# through amphi-exec in the app's own process group, restarts the app when it exits (after 1, 2, 4 ...
# 30 s; back to 1 s after a run of 60 s), writes each exit status to run/APP.exit, and on TERM stops
# the app: TERM to its process group, KILL after GRACE seconds.
base=$1 app=$2 grace=${3:-10}
run=$base/run
child="" sleeper="" killer="" stopping=""

say() { printf '%s amphi-supervise[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*"; }

# put FILE VALUE: writes a small file in one rename, so readers never see it half written.
put() { printf '%s\n' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"; }

stop_child() {
  [ -n "$child" ] || return 0
  kill -TERM -"$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null
  # KILL after the grace period; cancelled (with its sleep: own process group) once the app is gone.
  # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
  setsid sh -c 'sleep "$1"; kill -KILL -"$2" 2>/dev/null' killer "$grace" "$child" </dev/null >/dev/null 2>&1 &
  killer=$!
}

on_stop() {
  stopping=1
  if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi
  stop_child
}
trap on_stop TERM INT

put "$run/$app.supervisor.pid" "$$"
delay=1
while [ -z "$stopping" ]; do
  started=$(date +%s)
  # setsid gives the app its own process group, so a stop reaches whatever it spawned. A background job
  # of a non-interactive shell never leads a process group, so setsid does not fork: $! is the app.
  setsid /bin/sh "$base/bin/amphi-exec" "$base/apps/$app/current" </dev/null &
  child=$!
  put "$run/$app.pid" "$child"
  say "started $app (pid $child)"
  if [ -n "$stopping" ]; then stop_child; fi
  # wait returns early when a trapped signal arrives: wait again until the app has really exited
  while :; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break
  done
  child=""
  rm -f "$run/$app.pid"
  put "$run/$app.exit" "$status $(date +%s)"
  if [ -n "$killer" ]; then
    kill -TERM -"$killer" 2>/dev/null
    killer=""
  fi
  [ -z "$stopping" ] || break
  ran=$(($(date +%s) - started))
  if [ "$ran" -ge 60 ]; then delay=1; fi
  say "$app exited with status $status after ${ran}s; restarting in ${delay}s"
  sleep "$delay" &
  sleeper=$!
  wait "$sleeper"
  sleeper=""
  delay=$((delay * 2))
  if [ "$delay" -gt 30 ]; then delay=30; fi
done
say "stopped $app"
rm -f "$run/$app.supervisor.pid"
