# control.sh ACTION GRACE UNIT SUPERVISE EXEC [ARGS]: runs, stops or switches the app. GRACE: seconds an
# app gets between TERM and KILL; UNIT: the systemd unit's text (used where systemd runs); SUPERVISE,
# EXEC: amphi-supervise and amphi-exec as amphi ships them (installed when they differ). Actions:
#   start                        start unless running          prints result=started|unchanged, pid=
#   stop                         stop unless stopped           prints result=stopped|unchanged
#   restart                      stop, start                   prints pid=
#   activate RELEASE [BYTES WRITE]  with BYTES and WRITE (state-file.ts's STATE_WRITE_SH), first records
#                                state.json from stdin (BYTES bytes: the deploy's intent), exit 5 when that
#                                fails, before anything changes; then stop, swap in .amphi/next/ (a change in
#                                place, see install.sh), switch current, start     prints pid=
#   rollback TARGET FAILED START stop; current back to TARGET (none: remove current); when TARGET is FAILED
#                                (a change in place), put back the files activate set aside in
#                                .amphi/rollback/; start when START=1. Also what the next run does after a
#                                run was killed mid-deploy, so it works from any point of an activate.
# Actions of one app wait for each other (lock_app): a killed run's script may still be running.
action=$1 grace=$2 unit=$3
lock_app "$grace"
supervise_text=$4 exec_text=$5
shift 5

# bins: installs amphi-supervise and amphi-exec where amphi's copies differ (only a start needs them). Actions that
# stop the app first install them before the stop, so a failed write leaves the app running, not stopped.
bins() { install_bins "$supervise_text" "$exec_text"; }
# start_current: starts the app (start_app); the bins are installed already.
start_current() { start_app "$grace" "$unit"; }
case $action in
  start)
    [ -e "$APPDIR/current" ] || fail "$APP is not deployed here (no $APPDIR/current)"
    find_app
    pid=$APP_PID
    if [ -n "$pid" ]; then
      echo "result=unchanged"
    else
      bins
      start_current
      echo "result=started"
      pid=$STARTED_PID
    fi
    printf 'pid=%s\n' "$pid"
    ;;
  stop)
    if app_stopped; then
      echo "result=unchanged"
    else
      stop_app "$grace"
      echo "result=stopped"
    fi
    ;;
  restart)
    [ -e "$APPDIR/current" ] || fail "$APP is not deployed here (no $APPDIR/current)"
    bins
    stop_app "$grace"
    start_current
    printf 'pid=%s\n' "$STARTED_PID"
    ;;
  activate)
    meta=$APPDIR/releases/$1/.amphi
    # checked before anything changes: a refused .amphi/ leaves the app running as it was
    amphi_meta "$meta"
    if [ -n "${2:-}" ]; then run_sh "$3" "$BASE" "$2" || exit 5; fi
    bins
    stop_app "$grace"
    (
      enter_meta "$meta"
      if [ -d next ]; then
        # a change in place: keep the files the release ran with for a rollback, then use the new ones
        rm -rf rollback
        mkdir rollback || fail "cannot create $meta/rollback"
        for f in env start user health; do
          mv -f "$f" "rollback/$f" && mv -f "next/$f" "$f" || fail "cannot install $meta/$f"
        done
        rmdir next
      else
        rm_rf rollback
      fi
    ) || exit 1
    switch_current "$1"
    start_current
    printf 'pid=%s\n' "$STARTED_PID"
    ;;
  rollback)
    target=$1 failed=$2
    if [ "$3" = 1 ]; then bins; fi
    stop_app "$grace"
    if [ -z "$target" ]; then
      rm -f "$APPDIR/current"
      exit 0
    fi
    if [ ! -d "$APPDIR/releases/$target" ]; then
      # the release to return to is gone from the host (removed by hand): leave the app stopped
      rm -f "$APPDIR/current"
      printf 'missing=%s\n' "$target"
      exit 0
    fi
    meta=$APPDIR/releases/$target/.amphi
    if [ "$target" = "$failed" ]; then
      (
        enter_meta "$meta"
        # A file activate set aside is in rollback/ and no longer in next/ (or, stopped between its two
        # moves, in both but not in place); one still in next/ and in place was never swapped, so the file
        # in place is the good one and rollback/ holds an older change's copy.
        for f in env start user health; do
          if [ -e "rollback/$f" ] && { [ ! -e "next/$f" ] || [ ! -e "$f" ]; }; then
            mv -f "rollback/$f" "$f" || fail "cannot restore $meta/$f"
          fi
        done
        rm -rf rollback next
      ) || exit 1
    fi
    switch_current "$target"
    if [ "$3" = 1 ]; then
      start_current
      printf 'pid=%s\n' "$STARTED_PID"
    fi
    ;;
  *) fail "unknown action $action" ;;
esac
