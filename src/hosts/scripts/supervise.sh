#!/bin/sh
# amphi-supervise: keeps one app running on a host without systemd. Installed by amphi as
# BASE/bin/amphi-supervise (rewritten when amphi's copy differs; do not edit) and started detached,
# one per app, by amphi's host tasks:
#   setsid sh BASE/bin/amphi-supervise BASE APP GRACE </dev/null >>BASE/logs/APP.log 2>&1 &
# It records its pid in run/APP.supervisor.pid and the app's last pid in run/APP.pid, runs BASE/apps/APP/current
# through amphi-exec in the app's own process group, restarts the app when it exits (after 1, 2, 4 ...
# 30 s; back to 1 s after a run of 60 s), writes each exit status to run/APP.exit, and on TERM stops
# the app: TERM to its process group, KILL after GRACE seconds.
base=$1 app=$2 grace=${3:-10}
run=$base/run
child="" sleeper="" stopping=""

say() { printf '%s amphi-supervise[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*"; }

# clock: sets up to whole seconds since boot (the shell's own read of /proc/uptime: no process), or to the
# time of day from date where there is no /proc/uptime; only differences mean anything. lib.sh's clock, copied
# (amphi-supervise runs alone, without lib.sh).
clock() {
  if { read -r up _ </proc/uptime; } 2>/dev/null && [ -n "$up" ]; then up=${up%.*}; else up=$(date +%s); fi
}

# put FILE VALUE: writes a small file in one rename, so readers never see it half written.
put() { printf '%s\n' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"; }

# group_alive PGID: a live process is in process group PGID. Through /proc where there is one, because
# kill -0 also counts zombies, which an init that does not reap keeps forever. kill -0 first: when it finds no
# process at all ("No such process", the usual case once the app has exited), the group is gone and the scan of
# every process's stat file (tens of milliseconds with the shell's byte-wise reads) is skipped; a group kill -0
# cannot signal (another user's process) or that only zombies may hold is scanned.
group_alive() {
  [ -r /proc/self/stat ] || {
    kill -0 -"$1" 2>/dev/null
    return
  }
  if ! _e=$(kill -0 -"$1" 2>&1); then
    case $_e in *"No such process"*) return 1 ;; esac
  fi
  _g=$1
  for _s in /proc/[0-9]*/stat; do
    { read -r _l <"$_s"; } 2>/dev/null || continue
    # after the command name: state ppid pgrp ...
    set -f
    # shellcheck disable=SC2086 # split into fields on purpose
    set -- ${_l##*) }
    set +f
    if [ "$3" = "$_g" ] && [ "$1" != Z ]; then return 0; fi
  done
  return 1
}

# child_alive: the app's main process has not exited (an exited child stays a zombie until wait).
child_alive() {
  if [ -r "/proc/$child/stat" ]; then
    { read -r _l <"/proc/$child/stat"; } 2>/dev/null || return 1
    case ${_l##*) } in Z* | X*) return 1 ;; esac
    return 0
  fi
  kill -0 "$child" 2>/dev/null
}

on_stop() {
  stopping=1
  if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi
  if [ -n "$child" ]; then kill -TERM -"$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null; fi
}
trap on_stop TERM INT

# start_app records this pid itself as soon as it has started this script: write it only when it is not there yet
{ read -r _sp <"$run/$app.supervisor.pid"; } 2>/dev/null || _sp=""
[ "$_sp" = "$$" ] || put "$run/$app.supervisor.pid" "$$"
delay=1
while [ -z "$stopping" ]; do
  # No current release (a first deploy rolled back, an undeploy): nothing to run, so do not linger.
  if [ ! -e "$base/apps/$app/current" ]; then
    say "$app has no current release; stopping"
    break
  fi
  clock
  started=$up
  # setsid gives the app its own process group, so a stop reaches whatever it spawned. A background job
  # of a non-interactive shell never leads a process group, so setsid does not fork: $! is the app.
  setsid /bin/sh "$base/bin/amphi-exec" "$base/apps/$app/current" </dev/null &
  child=$!
  put "$run/$app.pid" "$child"
  say "started $app (pid $child)"
  if [ -n "$stopping" ]; then kill -TERM -"$child" 2>/dev/null; fi
  # wait returns early when a trapped signal arrives: wait again until the app has really exited. On a
  # stop, the app gets GRACE seconds after TERM, then its process group is KILLed.
  while :; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break
    if [ -n "$stopping" ]; then
      tenths=0
      while child_alive && [ "$tenths" -lt $((grace * 10)) ]; do
        if sleep 0.1 2>/dev/null; then tenths=$((tenths + 1)); else
          sleep 1
          tenths=$((tenths + 10))
        fi
      done
      kill -KILL -"$child" 2>/dev/null || kill -KILL "$child" 2>/dev/null
    fi
  done
  # What the app left in its process group (its shell died, its server did not) would hold the port
  # the next start needs: TERM it, KILL what is left after a second.
  if group_alive "$child"; then
    kill -TERM -"$child" 2>/dev/null
    n=0
    while group_alive "$child" && [ "$n" -lt 10 ]; do
      sleep 0.1 2>/dev/null || sleep 1
      n=$((n + 1))
    done
    kill -KILL -"$child" 2>/dev/null
  fi
  child=""
  put "$run/$app.exit" "$status $(date +%s)"
  [ -z "$stopping" ] || break
  clock
  ran=$((up - started))
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
