# lib.sh: shared by amphi's host scripts. amphi prepends it (after uid.sh) to each script and runs the result as
#   sh -c SCRIPT amphi BASE APP ENV ARGS...
# so values reach the host only as positional arguments or on stdin, never inside the script text.
# POSIX sh (dash, busybox ash); tools from Debian's base system or busybox.
# shellcheck disable=SC2015 # `a && b || fail ...` is meant: fail when either step fails

set -u
BASE=$1
_app=$2
AMPHI_ENV=$3
shift 3
# A relative base dir is relative to where the session starts (the login's home over ssh).
case $BASE in /*) ;; *) BASE=$(pwd)/$BASE ;; esac
RUN=$BASE/run

# set_app NAME: the paths of one app.
set_app() {
  APP=$1
  APPDIR=$BASE/apps/$APP
  LOG=$BASE/logs/$APP.log
  UNIT=amphi-$AMPHI_ENV-$APP.service
  UNITFILE=/etc/systemd/system/$UNIT
}

fail() {
  printf 'amphi: %s\n' "$*" >&2
  exit 1
}

# nap: one pause of a polling loop, growing 10, 20, 50 ms, then a tenth of a second from the fourth on (nap_reset
# starts a loop over), so a wait that ends at once costs milliseconds and a long one polls ten times a second.
# Where sleep takes no fractions (neither GNU nor busybox), a whole second.
_nap=0
nap_reset() { _nap=0; }
nap() {
  case $_nap in 0) _s=0.01 ;; 1) _s=0.02 ;; 2) _s=0.05 ;; *) _s=0.1 ;; esac
  _nap=$((_nap + 1))
  sleep "$_s" 2>/dev/null || sleep 1
}

# read_line VAR FILE: sets VAR to FILE's first line (without forking, unlike $(cat FILE)); status 1, VAR empty,
# when FILE cannot be read or is empty.
read_line() {
  eval "$1=''"
  { read -r "$1" <"$2" || eval "[ -n \"\${$1}\" ]"; } 2>/dev/null
}

# clock: sets _now to whole seconds since boot from /proc/uptime, read with the shell's own read (polling loops
# ask every pass: no fork), or to the time of day from date where there is no /proc/uptime. Only the difference
# of two readings means anything; a deadline is `clock; _end=$((_now + SECONDS))`.
clock() {
  if { read -r _now _ </proc/uptime; } 2>/dev/null && [ -n "$_now" ]; then _now=${_now%.*}; else _now=$(date +%s); fi
}

# run_sh SCRIPT ARGS...: runs SCRIPT (amphi's own text, such as state-file.ts's STATE_DUMP_SH) with ARGS as $1...,
# as `sh -c SCRIPT amphi ARGS...` would, in a subshell instead of a new shell: its variables, umask and exit stay
# in it (a subshell runs no EXIT trap of this one, so the app lock stays held), and no shell is started.
run_sh() {
  _script=$1
  shift
  (eval "$_script")
}

# sha256_of FILE: the file's hex sha256, with whichever tool the host has; status 2 when none.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then _out=$(sha256sum <"$1") || return 1
  elif command -v shasum >/dev/null 2>&1; then _out=$(shasum -a 256 <"$1") || return 1
  elif command -v openssl >/dev/null 2>&1; then _out=$(openssl dgst -sha256 -r <"$1") || return 1
  else return 2
  fi
  printf '%s\n' "${_out%% *}"
}

# alive PID: the process exists and is not a zombie (an exited child whose parent never reaps it). Reads
# /proc/PID/stat with the shell's own read (this runs in every polling loop: no fork).
alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
  if [ -r "/proc/$1/stat" ]; then
    _st=""
    read_line _st "/proc/$1/stat" || return 1
    case ${_st##*) } in Z* | X*) return 1 ;; esac
  fi
  return 0
}

# wait_gone PID SECONDS: waits until PID is gone; status 1 when it is still there after SECONDS.
wait_gone() {
  clock
  _end=$((_now + $2))
  nap_reset
  while alive "$1"; do
    clock
    [ "$_now" -ge "$_end" ] && return 1
    nap
  done
  return 0
}

# UID_NOW (this shell's effective uid) is set by uid.sh, which amphi puts before this file.

# use_systemd: systemd is PID 1 and we are root, so apps run as systemd units. Decided once per script, here:
# polling loops ask it many times, often in subshells that could not keep an answer cached later.
use_systemd() { [ "$_systemd" = 1 ]; }
_systemd=0 _comm=""
if read_line _comm /proc/1/comm && [ "$_comm" = systemd ] && [ "$UID_NOW" = 0 ] && command -v systemctl >/dev/null 2>&1; then _systemd=1; fi

# find_current: sets CURRENT to the release `current` points at, "" when there is none. No process: the shell's
# own `cd -P` resolves the link (then returns to where it was: an app or supervisor started later must not
# inherit a release directory as its working directory); readlink only for a link whose release is gone.
# shellcheck disable=SC2034 # CURRENT is read by the scripts lib.sh is prepended to
find_current() {
  CURRENT=""
  [ -L "$APPDIR/current" ] || return 0
  if cd -P "$APPDIR/current" 2>/dev/null; then
    CURRENT=${PWD##*/}
    cd "$OLDPWD" 2>/dev/null || cd /
  else
    _l=$(readlink "$APPDIR/current" 2>/dev/null) && CURRENT=${_l##*/}
  fi
  return 0
}

# switch_current RELEASE: points `current` at releases/RELEASE in one rename (mv -T: GNU and busybox).
switch_current() {
  { ln -sfn "releases/$1" "$APPDIR/current.tmp.$$" && mv -f -T "$APPDIR/current.tmp.$$" "$APPDIR/current"; } ||
    fail "cannot switch $APP to $1"
}

# amphi_meta DIR: fails unless DIR, a release's .amphi/, is the directory amphi made: not a link, owned by the login
# user. The release directory belongs to an app's run-as user, who could put a .amphi/ of their own (links in it)
# in its place, and amphi writes there as the login user (root, for such an app). amphi-exec checks it too.
amphi_meta() {
  { [ ! -L "$1" ] && [ -d "$1" ] && [ -O "$1" ]; } || meta_refused "$1"
}

# enter_meta DIR: enters DIR and checks the directory entered as amphi_meta checks a path: the one at that path in
# the release (cd -P: not through a link) and owned by the login user. Used in a subshell, `( enter_meta D; ... )`,
# whose writes name files relative to it: a user who swaps the directory after the check gains nothing.
enter_meta() {
  { cd -P "${1%/*}" && _rd=$PWD && cd -P ./.amphi && [ "$PWD" = "$_rd/.amphi" ] && [ -O . ]; } 2>/dev/null || meta_refused "$1"
}

meta_refused() {
  fail "$1 is not amphi's (a link, or owned by another user); remove its release directory to have it unpacked again"
}

# rm_rf PATH: rm -rf PATH, without starting rm when there is nothing there (the usual case where it is called).
rm_rf() {
  if [ -e "$1" ] || [ -L "$1" ]; then rm -rf "$1"; fi
}

# put FILE VALUE: writes VALUE and a newline to FILE in one rename.
put() {
  { printf '%s\n' "$2" >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; } || fail "cannot write $1"
}

# write_if_changed FILE CONTENT: writes CONTENT (plus a newline) atomically unless FILE holds it already.
write_if_changed() {
  if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then return 1; fi
  mkdir -p "${1%/*}" || fail "cannot create ${1%/*}"
  put "$1" "$2"
}

# find_supervisor: sets SUPERVISOR_PID to the pid of the app's amphi-supervise, empty when it does not run
# (without a fork: polling loops ask it).
find_supervisor() {
  SUPERVISOR_PID=""
  read_line _p "$RUN/$APP.supervisor.pid" || return 0
  alive "$_p" || return 0
  # After a reboot the pid may belong to another process: where /proc tells, check it is ours. The shell's
  # read drops the NULs between arguments (dash, busybox ash and bash alike), so the words run together.
  if [ -r "/proc/$_p/cmdline" ]; then
    _cmd=""
    read_line _cmd "/proc/$_p/cmdline"
    case $_cmd in *amphi-supervise*) ;; *) return 0 ;; esac
  fi
  SUPERVISOR_PID=$_p
}

# find_app: sets APP_PID to the pid of the app's running process (systemd's main pid, or what the supervisor
# started), empty when it does not run. Without a fork where the supervisor runs it (polling loops ask it).
find_app() {
  APP_PID=""
  if use_systemd && [ -f "$UNITFILE" ]; then
    _p=$(systemctl show -p MainPID --value "$UNIT" 2>/dev/null)
    [ "${_p:-0}" != 0 ] && alive "$_p" && APP_PID=$_p
    return 0
  fi
  find_supervisor
  [ -n "$SUPERVISOR_PID" ] || return 0
  read_line _p "$RUN/$APP.pid" || return 0
  alive "$_p" && APP_PID=$_p
  return 0
}

# app_pid: prints the pid of the app's running process, if it runs (see find_app).
app_pid() {
  find_app
  [ -z "$APP_PID" ] || printf '%s\n' "$APP_PID"
}

# find_stray: sets STRAY_PID to the last app pid recorded, when that process still runs from this app's
# directory (its supervisor was killed, say), else empty. Checked through /proc so a reused pid is never
# killed.
find_stray() {
  STRAY_PID=""
  read_line _p "$RUN/$APP.pid" || return 0
  alive "$_p" || return 0
  _cwd=$(readlink "/proc/$_p/cwd" 2>/dev/null) || return 0
  _real=$(cd "$APPDIR" 2>/dev/null && pwd -P) || return 0
  case $_cwd in "$_real"/*) STRAY_PID=$_p ;; esac
  return 0
}

# app_stopped: neither the app, nor its supervisor, nor a stray process of it runs (see find_*).
app_stopped() {
  find_app
  [ -z "$APP_PID" ] || return 1
  find_supervisor
  [ -z "$SUPERVISOR_PID" ] || return 1
  find_stray
  [ -z "$STRAY_PID" ]
}

# lock_app GRACE: waits until no other amphi script changes this app (a run killed mid-task leaves its
# script running on the host), then holds run/APP.lock (a symlink to this shell's pid) until exit. A lock
# whose holder is gone is taken over; after 2 * GRACE + 20 seconds (what a holder's stop of the app may
# take, GRACE being the app's stop grace), fails naming the holder. Without BASE there is nothing to guard
# (and nothing is created). Every script that changes an app's files or processes takes it: control,
# install, prune, undeploy.
lock_app() {
  [ -d "$BASE" ] || return 0
  [ -d "$RUN" ] || mkdir -p "$RUN" || fail "cannot create $RUN"
  _lk=$RUN/$APP.lock
  clock
  _end=$((_now + 2 * $1 + 20))
  nap_reset
  until ln -s "$$" "$_lk" 2>/dev/null; do
    _h=$(readlink "$_lk" 2>/dev/null) || _h=""
    if [ -n "$_h" ] && ! lock_holder "$_h"; then
      rm -f "$_lk"
      continue
    fi
    clock
    [ "$_now" -ge "$_end" ] && fail "another amphi task of $APP still runs on this host (pid ${_h:-unknown}; $_lk)"
    nap
  done
  trap 'unlock_app' EXIT
}

# lock_holder PID: PID is still an amphi host script for this app (checked through /proc where there is one).
lock_holder() {
  alive "$1" || return 1
  [ -r "/proc/$1/cmdline" ] || return 0
  tr '\0' '\n' <"/proc/$1/cmdline" | grep -qxF -- "$APP"
}

# unlock_app: removes the lock this shell holds (the EXIT trap of lock_app: nobody takes over the lock of a
# live holder, so it is still this shell's).
unlock_app() {
  rm -f "$RUN/$APP.lock"
  return 0
}

# stop_app GRACE: stops the app and its supervisor; TERM, then KILL after GRACE seconds.
stop_app() {
  if use_systemd && [ -f "$UNITFILE" ]; then
    systemctl disable -q --now "$UNIT" 2>/dev/null || systemctl stop "$UNIT" || fail "systemctl stop $UNIT failed"
    return 0
  fi
  find_supervisor
  _sp=$SUPERVISOR_PID
  if [ -n "$_sp" ]; then
    kill -TERM "$_sp" 2>/dev/null
    # the supervisor TERMs the app's process group and KILLs it after GRACE seconds itself
    wait_gone "$_sp" $(($1 + 5)) || kill -KILL "$_sp" 2>/dev/null
  fi
  find_stray
  _ap=$STRAY_PID
  if [ -n "$_ap" ]; then
    kill -TERM -"$_ap" 2>/dev/null || kill -TERM "$_ap" 2>/dev/null
    wait_gone "$_ap" "$1" || { kill -KILL -"$_ap" 2>/dev/null || kill -KILL "$_ap" 2>/dev/null; }
    wait_gone "$_ap" 5 || fail "$APP (pid $_ap) survives SIGKILL"
  fi
  if [ -e "$RUN/$APP.pid" ] || [ -e "$RUN/$APP.supervisor.pid" ]; then rm -f "$RUN/$APP.pid" "$RUN/$APP.supervisor.pid"; fi
}

# start_app GRACE UNIT_TEXT: starts the app of `current` (a systemd unit, or a detached amphi-supervise)
# and sets STARTED_PID to the pid it got (which may have exited already: the health gate tells).
# shellcheck disable=SC2034 # STARTED_PID is read by control.sh
start_app() {
  STARTED_PID=""
  if use_systemd; then
    if write_if_changed "$UNITFILE" "$2"; then systemctl daemon-reload || fail "systemctl daemon-reload failed"; fi
    { systemctl enable -q "$UNIT" && systemctl restart "$UNIT"; } || fail "systemctl restart $UNIT failed"
    find_app
    STARTED_PID=$APP_PID
    return 0
  fi
  { [ -d "$RUN" ] && [ -d "$BASE/logs" ]; } || mkdir -p "$RUN" "$BASE/logs" || fail "cannot create $RUN"
  if [ -e "$RUN/$APP.pid" ] || [ -e "$RUN/$APP.exit" ]; then rm -f "$RUN/$APP.pid" "$RUN/$APP.exit"; fi
  # env -i: amphi's own environment (tokens, say) must not leak into apps; they get only their env file.
  setsid env -i PATH="${PATH:-/usr/bin:/bin}" HOME="${HOME:-/}" LANG="${LANG:-C.UTF-8}" \
    /bin/sh "$BASE/bin/amphi-supervise" "$BASE" "$APP" "$1" </dev/null >>"$LOG" 2>&1 &
  # Record the supervisor at once (it writes the same pid itself once it runs): when this script is
  # killed before the supervisor got that far (a cancelled deploy), the rollback's stop still finds it.
  put "$RUN/$APP.supervisor.pid" "$!"
  clock
  _end=$((_now + 5))
  nap_reset
  until [ -s "$RUN/$APP.pid" ]; do
    clock
    [ "$_now" -ge "$_end" ] && fail "amphi-supervise did not start $APP (see logs/$APP.log)"
    nap
  done
  read_line STARTED_PID "$RUN/$APP.pid"
}

# install_bins SUPERVISE EXEC: installs the supervisor and launcher when amphi's copies differ.
install_bins() {
  write_if_changed "$BASE/bin/amphi-supervise" "$1" && chmod 755 "$BASE/bin/amphi-supervise"
  write_if_changed "$BASE/bin/amphi-exec" "$2" && chmod 755 "$BASE/bin/amphi-exec"
  return 0
}

# http_code URL SECONDS: sets HTTP_CODE to the HTTP status of a GET (000 when nothing answers), with curl, wget,
# node or python3, whichever exists first; status 2 when none does.
http_code() {
  HTTP_CODE=000
  if command -v curl >/dev/null 2>&1; then
    _c=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$2" "$1" 2>/dev/null)
  elif command -v wget >/dev/null 2>&1; then
    # busybox wget has no -T and crashes on -q -S; timeout(1) bounds both wgets
    _c=$(timeout "$2" wget -S -O /dev/null "$1" 2>&1 | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | head -n 1)
  elif command -v node >/dev/null 2>&1; then
    _c=$(node -e 'const r=require("http").get(process.argv[1],{timeout:process.argv[2]*1000},(s)=>{process.stdout.write(String(s.statusCode));process.exit(0)});r.on("timeout",()=>r.destroy());r.on("error",()=>process.exit(0))' "$1" "$2" 2>/dev/null)
  elif command -v python3 >/dev/null 2>&1; then
    _c=$(python3 -c 'import sys, urllib.request, urllib.error
try: print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).status)
except urllib.error.HTTPError as e: print(e.code)
except Exception: pass' "$1" "$2" 2>/dev/null)
  else
    return 2
  fi
  # shellcheck disable=SC2034 # read by the script that asked (health.sh, probe.sh, reporter.sh)
  case $_c in [0-9][0-9][0-9]) HTTP_CODE=$_c ;; esac
}

# port_listening PORT: status 1 when /proc/net/tcp and tcp6 show no socket listening on TCP PORT (on any address),
# else 0 (one listens, or there is no /proc/net/tcp to tell). One awk (~3 ms here), no connection: a polling loop
# asks it before an HTTP client (curl ~30 ms) whose answer could only be "nothing there".
port_listening() {
  [ -r /proc/net/tcp ] || return 0
  _pf=/proc/net/tcp
  if [ -r /proc/net/tcp6 ]; then _pf="$_pf /proc/net/tcp6"; fi
  # shellcheck disable=SC2086 # the file list, split on purpose
  awk -v p="$1" 'BEGIN { h = sprintf(":%04X", p) } $4 == "0A" && substr($2, length($2) - 4) == h { f = 1; exit } END { exit !f }' $_pf 2>/dev/null
  [ $? != 1 ]
}

# health_url: sets HEALTH_URL to the app's health URL from current/.amphi/health ("PORT PATH") and HEALTH_PORT to its
# port, both empty when it has none (variables, not output: $(health_url) would fork a subshell, every pass of the
# reporter's loop).
health_url() {
  HEALTH_PORT="" _hpath="" HEALTH_URL=""
  [ -f "$APPDIR/current/.amphi/health" ] && read -r HEALTH_PORT _hpath <"$APPDIR/current/.amphi/health"
  # shellcheck disable=SC2034 # read by the script that asked (health.sh, probe.sh, reporter.sh)
  [ -n "$HEALTH_PORT" ] && HEALTH_URL="http://127.0.0.1:$HEALTH_PORT$_hpath"
  return 0
}

# prune_packages: removes cached packages that no release of any app on the host was unpacked from
# (a release directory is named <version>-<first 8 hex digits of the package's sha256>).
prune_packages() {
  for _f in "$BASE"/packages/*; do
    [ -f "$_f" ] || continue
    _sha=${_f##*/}
    case $_sha in ????????*) _sha8=${_sha%"${_sha#????????}"} ;; *) _sha8=$_sha ;; esac
    set -- "$BASE"/apps/*/releases/*-"$_sha8"
    if [ ! -e "$1" ]; then
      rm -f "$_f" && printf 'removed=packages/%s\n' "$_sha"
    fi
  done
}

# port_owners PORTS ROOTS: who listens on each TCP port in PORTS (space-separated), as one line per port:
#   port P ours          a listening socket on P belongs to a process in ROOTS (pids), a descendant of
#                        one, or a process in their process group or session
#   port P foreign PID   a listening socket on P belongs to PID, which is none of those
#   port P hidden UID    a socket of uid UID listens on P, but no /proc/<pid>/fd we can read holds it
#   port P free          nothing listens on P
# (foreign before hidden before ours when P has several listening sockets). Status 2 without
# /proc/net/tcp (not Linux): nothing can be told. Linux only: /proc/net/tcp and tcp6 give the listening
# sockets' inodes, `ls -l /proc/*/fd` the processes holding them, and /proc/PID/stat (read by awk once the
# holders are known, for them and their ancestors only) parents, process groups and sessions. awk reads the socket
# tables itself, then ls's listing on its stdin: three processes (no cat, no subshell for a group).
port_owners() {
  [ -r /proc/net/tcp ] || return 2
  _tcp=/proc/net/tcp
  if [ -r /proc/net/tcp6 ]; then _tcp="$_tcp /proc/net/tcp6"; fi
  # shellcheck disable=SC2086,SC2012 # the socket tables' list, split on purpose; ls -l for the fds' link targets
  ls -l /proc/[0-9]*/fd 2>/dev/null | awk -v ports="$1" -v roots="$2" '
    BEGIN { np = split(ports, want, " "); nr = split(roots, r, " "); for (i = 1; i <= nr; i++) root[r[i]] = 1 }
    FNR == 1 { sec = FILENAME ~ /^\/proc\/net\/tcp/ ? 1 : 2 }
    sec == 1 && $4 == "0A" {
      n = split($2, a, ":"); h = toupper(a[n]); port = 0
      for (i = 1; i <= length(h); i++) port = port * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
      sock[$10] = port; suid[$10] = $8; inodes[port] = inodes[port] " " $10
      next
    }
    sec == 2 && /^\/proc\/[0-9]+\/fd:$/ { cur = $0; sub(/^\/proc\//, "", cur); sub(/\/fd:$/, "", cur); next }
    sec == 2 && /socket:\[/ {
      ino = $0; sub(/.*socket:\[/, "", ino); sub(/\].*/, "", ino)
      if (ino in sock) holders[ino] = holders[ino] " " cur
      next
    }
    END {
      # parents, process groups and sessions of the holders and their ancestors, from /proc/PID/stat
      for (ino in holders) {
        nh = split(holders[ino], hs, " ")
        for (j = 1; j <= nh; j++) {
          for (q = hs[j]; q != "" && !(q in seen) && !(q in gone); q = f[2]) {
            fn = "/proc/" q "/stat"; l = ""
            if ((getline l < fn) <= 0) l = ""
            close(fn)
            i = length(l); while (i > 0 && substr(l, i, 1) != ")") i--
            if (i == 0) { gone[q] = 1; break }
            split(substr(l, i + 2), f, " ")
            ppid[q] = f[2]; pgrp[q] = f[3]; sess[q] = f[4]; seen[q] = 1
          }
        }
      }
      for (w = 1; w <= np; w++) {
        port = want[w]; verdict = "free"
        if (!(port in inodes)) { print "port " port " free"; continue }
        ni = split(inodes[port], ins, " ")
        for (k = 1; k <= ni; k++) {
          ino = ins[k]; nh = split(holders[ino], hs, " "); mine = 0; other = ""; live = 0
          for (j = 1; j <= nh; j++) {
            if (!(hs[j] in seen)) continue
            live++; p = hs[j]; own = (sess[p] in root || pgrp[p] in root); d = 0
            for (q = p; !own && q != "" && d < 4096; q = ppid[q]) { if (q in root) own = 1; d++ }
            if (own) mine = 1; else if (other == "") other = hs[j]
          }
          if (!mine && other != "") { verdict = "foreign " other; break }
          if (live == 0 && verdict !~ /^foreign/) verdict = "hidden " suid[ino]
          else if (mine && verdict == "free") verdict = "ours"
        }
        print "port " port " " verdict
      }
    }' $_tcp -
}

# command_of PID: the command line of PID (arguments joined by spaces, at most 160 characters).
command_of() {
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | cut -c1-160 | sed 's/ *$//'
}

# in_unit PID: PID runs in the app's systemd unit (its cgroup), where the app runs as a unit: a process
# the app started in a new session, reparented away from it, is still the app's.
in_unit() {
  use_systemd && [ -f "$UNITFILE" ] && grep -q "/$UNIT\$" "/proc/$1/cgroup" 2>/dev/null
}

# check_ports PORTS PID: for the health gate. When a process other than the app started as PID (or the
# app's current pid) listens on one of PORTS, or one amphi cannot see, prints result=foreign|hidden with
# port=, holder=, holder_cmd=, holder_uid=, login= and app_pid=, and returns 1. Asks twice, a moment
# apart, before it says so (a socket whose process just exited, a worker just forked). Prints
# ports=unchecked on a host without /proc/net/tcp.
check_ports() {
  [ -n "$1" ] || return 0
  _tries=0
  while :; do
    _own=$(port_owners "$1" "$2 $(app_pid)")
    [ $? = 2 ] && { echo "ports=unchecked"; return 0; }
    _bad=""
    while read -r _w _p _v _h; do
      case $_v in
        foreign) in_unit "$_h" && continue ;;
        hidden) ;;
        *) continue ;;
      esac
      _bad="$_w $_p $_v $_h"
      break
    done <<EOF
$_own
EOF
    [ -n "$_bad" ] || return 0
    _tries=$((_tries + 1))
    [ "$_tries" -ge 2 ] && break
    sleep 0.1 2>/dev/null || sleep 1
  done
  # shellcheck disable=SC2086 # split into fields on purpose (digits and words only)
  set -- "$2" $_bad
  printf 'result=%s\nport=%s\napp_pid=%s\n' "$4" "$3" "$1"
  if [ "$4" = foreign ]; then
    printf 'holder=%s\nholder_cmd=%s\n' "$5" "$(command_of "$5")"
  else
    printf 'holder_uid=%s\nlogin=%s\n' "$5" "$(id -un 2>/dev/null || id -u)"
  fi
  return 1
}

set_app "$_app"
