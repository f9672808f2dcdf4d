# probe.sh: one line per app directory, `app NAME running|stopped ok|failing|none` (health through the
# app's health URL, 1 s timeout, only while it runs), then a line `state` and state.json as it is.
for d in "$BASE"/apps/*; do
  [ -d "$d" ] || continue
  set_app "${d##*/}"
  pid=$(app_pid)
  url=$(health_url)
  health=none
  if [ -n "$url" ]; then
    health=failing
    if [ -n "$pid" ]; then
      case $(http_status "$url" 1) in 2?? | 3??) health=ok ;; esac
    fi
  fi
  if [ -n "$pid" ]; then state=running; else state=stopped; fi
  printf 'app %s %s %s\n' "$APP" "$state" "$health"
done
echo "state"
if [ -f "$BASE/state.json" ]; then cat "$BASE/state.json"; fi
