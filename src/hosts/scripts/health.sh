# health.sh PID SECONDS: the health gate. Polls the app's health URL (current/.amphi/health) until it
# answers 2xx/3xx, or, for an app without a health check, waits until PID has been alive for a second.
# Prints result=ok|timeout|exited|noclient (exited: PID is no longer the app's running process, with
# status=<exit status> <time>), url=, code= (the last status, 000 for no answer), and on failure the tail
# of the app's log as log: lines.
pid=$1 seconds=$2
url=$(health_url)
printf 'url=%s\n' "$url"

exited() {
  echo "result=exited"
  printf 'status=%s\n' "$(cat "$RUN/$APP.exit" 2>/dev/null)"
  tail -n 5 "$LOG" 2>/dev/null | sed 's/^/log: /'
  exit 0
}

if [ -z "$url" ]; then
  sleep 1
  [ -n "$pid" ] && [ "$(app_pid)" = "$pid" ] || exited
  echo "result=ok"
  exit 0
fi
end=$(($(now) + seconds))
per=2
if [ "$seconds" -lt 2 ]; then per=1; fi
while :; do
  code=$(http_status "$url" "$per") || {
    echo "result=noclient"
    exit 0
  }
  printf 'code=%s\n' "$code"
  case $code in 2?? | 3??)
    echo "result=ok"
    exit 0
    ;;
  esac
  [ -n "$pid" ] && [ "$(app_pid)" = "$pid" ] || exited
  if [ "$(now)" -ge "$end" ]; then
    echo "result=timeout"
    tail -n 5 "$LOG" 2>/dev/null | sed 's/^/log: /'
    exit 0
  fi
  sleep 0.2 2>/dev/null || sleep 1
done
