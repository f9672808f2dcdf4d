# health.sh PID SECONDS: the health gate. Polls the app's health URL (current/.amphi/health) until it
# answers 2xx/3xx, or, for an app without a health check, waits until PID has been alive for a second;
# then checks that what listens on the app's ports (the health port and the ports on the health file's
# second line) is the app (lib.sh check_ports), since a process that held a port first answers for an
# app that cannot bind it. Prints result=ok|timeout|exited|noclient|foreign|hidden (exited: PID is no
# longer the app's running process, with status=<exit status> <time>; foreign/hidden: see check_ports,
# also instead of exited/timeout when a foreign holder explains them), url=, code= (the last status,
# 000 for no answer), and on failure the tail of the app's log as log: lines.
pid=$1 seconds=$2
health_url
url=$HEALTH_URL
printf 'url=%s\n' "$url"
ports=""
if [ -f "$APPDIR/current/.amphi/health" ]; then
  # the health port (health_url read it) and the app's other ports on the file's second line; a group, not $( ):
  # no subshell
  _more=""
  { read -r _first && read -r _more; } <"$APPDIR/current/.amphi/health" || :
  ports="$HEALTH_PORT ${_more:-}"
fi

# ended RESULT: a failed gate; a foreign holder of a port is the likelier cause, so it is named instead.
ended() {
  if ! _ports=$(check_ports "$ports" "$pid") && [ "${_ports#*result=foreign}" != "$_ports" ]; then
    printf '%s\n' "$_ports"
  else
    echo "result=$1"
  fi
  if [ "$1" = exited ]; then printf 'status=%s\n' "$(cat "$RUN/$APP.exit" 2>/dev/null)"; fi
  tail -n 5 "$LOG" 2>/dev/null | sed 's/^/log: /'
  exit 0
}

passed() {
  check_ports "$ports" "$pid" || {
    tail -n 5 "$LOG" 2>/dev/null | sed 's/^/log: /'
    exit 0
  }
  echo "result=ok"
  exit 0
}

if [ -z "$url" ]; then
  sleep 1
  find_app
  [ -n "$pid" ] && [ "$APP_PID" = "$pid" ] || ended exited
  passed
fi
clock
end=$((_now + seconds))
per=2
if [ "$seconds" -lt 2 ]; then per=1; fi
polls=0
while :; do
  # Nothing listens on the health port yet (the app is still starting): "no answer" without starting an HTTP client.
  # Every fifth pass (about a second apart) asks anyway: a port published by DNAT alone (podman's netavark, docker
  # without its userland proxy) answers with no socket listening on it here.
  if [ $((polls % 5)) != 4 ] && ! port_listening "$HEALTH_PORT"; then
    code=000
  else
    http_code "$url" "$per" || {
      echo "result=noclient"
      exit 0
    }
    code=$HTTP_CODE
  fi
  printf 'code=%s\n' "$code"
  case $code in 2?? | 3??) passed ;; esac
  find_app
  [ -n "$pid" ] && [ "$APP_PID" = "$pid" ] || ended exited
  clock
  if [ "$_now" -ge "$end" ]; then ended timeout; fi
  # Asked at once, then again after 20, 50 and 100 ms, then every 0.2 s: an app that is up in a few
  # milliseconds passes in a few milliseconds, and a slow one is not asked more than five times a second.
  case $polls in 0) pause=0.02 ;; 1) pause=0.05 ;; 2) pause=0.1 ;; *) pause=0.2 ;; esac
  polls=$((polls + 1))
  sleep "$pause" 2>/dev/null || sleep 1
done
