# probe.sh DUMP: one line per app directory, `app NAME running|stopped ok|failing|none RELEASE` (health through
# the app's health URL, 1 s timeout, only while it runs; RELEASE: what `current` points at, `-` for none), a line
# `sidecar present|absent` (BASE/sidecar, the VM sidecar's base dir: absent, there is nothing more to read; present:
# the sidecar's own probe follows in the same round trip, between the lines `sidecar-begin` and `sidecar-end`, as
# this script prints it for BASE/sidecar without a sidecar line), then a line `state` and state.json with its
# backup as DUMP (state-file.ts) prints them.

# probe_apps: the `app` lines of BASE's apps.
probe_apps() {
  for d in "$BASE"/apps/*; do
    [ -d "$d" ] || continue
    set_app "${d##*/}"
    find_app
    pid=$APP_PID
    health_url
    url=$HEALTH_URL
    health=none
    if [ -n "$url" ]; then
      health=failing
      if [ -n "$pid" ]; then
        http_code "$url" 1 && case $HTTP_CODE in 2?? | 3??) health=ok ;; esac
      fi
    fi
    if [ -n "$pid" ]; then state=running; else state=stopped; fi
    find_current
    printf 'app %s %s %s %s\n' "$APP" "$state" "$health" "${CURRENT:--}"
  done
}

probe_apps
if [ -e "$BASE/sidecar" ]; then
  echo "sidecar present"
  echo "sidecar-begin"
  # a subshell: BASE and RUN are the sidecar's only in it
  (
    # shellcheck disable=SC2030 # local to the subshell on purpose
    BASE=$BASE/sidecar
    RUN=$BASE/run
    probe_apps
    echo "state"
    run_sh "$1" "$BASE"
  )
  echo "sidecar-end"
else
  echo "sidecar absent"
fi
echo "state"
# shellcheck disable=SC2031 # the host's BASE: the subshell's is the sidecar's
run_sh "$1" "$BASE"
