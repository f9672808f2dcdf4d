# undeploy.sh GRACE: stops the app and removes everything amphi put on the host for it: apps/APP, its
# log, run files and systemd unit, and cached packages no remaining release was unpacked from. Prints
# removed=<path> for each thing removed (nothing printed: there was nothing to undeploy).
grace=$1
lock_app "$grace"
if ! app_stopped; then
  stop_app "$grace"
  echo "removed=process"
fi
if [ -f "$UNITFILE" ]; then
  systemctl disable -q --now "$UNIT" 2>/dev/null
  rm -f "$UNITFILE" && systemctl daemon-reload
  echo "removed=$UNITFILE"
fi
for p in "$APPDIR" "$LOG" "$LOG".* "$RUN/$APP".*; do
  # this script's own lock goes when it exits
  [ "$p" = "$RUN/$APP.lock" ] && continue
  if [ -e "$p" ] || [ -L "$p" ]; then
    rm -rf "$p" && printf 'removed=%s\n' "${p#"$BASE"/}"
  fi
done
prune_packages
