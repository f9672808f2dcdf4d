# reporter.sh: amphi's health reporter for one app (see src/hosts/reporter.ts), run after lib.sh. The
# reporter is a tiny "app" of its own under BASE/reporter/ (apps/APP.reporter/current/), started and stopped
# by the same control script and supervisor as apps (amphi-supervise, or a systemd unit). Modes:
#   install SCRIPT ENV_TEXT < TOKEN  with BASE=<base>/reporter, APP=<app>.reporter: writes current/amphi-report
#            (SCRIPT: lib.sh + this file), .amphi/env (ENV_TEXT, mode 600), .amphi/start, .amphi/user, and the
#            token files (mode 600; the token comes on stdin, never as an argument). Prints changed=0|1,
#            running=0|1, client=curl|wget|node|python3|none.
#   cleanup  with BASE=<base>/reporter: removes BASE once no reporter is left in it.
#   run      with BASE=<base>, APP=<app> (the installed copy, started by amphi-exec in current/): every
#            AMPHI_INTERVAL seconds GETs the app's health URL (current/.amphi/health; without one: is the app
#            running) and PUTs /v1/agent/check/pass|fail/<id>?note=... to AMPHI_CONSUL for each id of
#            AMPHI_CHECKS. The health URL's host is AMPHI_HEALTH_HOST (the instance's address) when set: checked the
#            way clients reach the app, so with capture on the check runs through the sidecar (a loopback check
#            would pass while clients are refused). Logs a line only when what it reports changes.
mode=$1
shift

# put_client: the first HTTP client that can PUT: curl, GNU wget (busybox wget cannot), node, python3.
put_client() {
  if command -v curl >/dev/null 2>&1; then echo curl
  elif command -v wget >/dev/null 2>&1 && wget --version 2>/dev/null | head -n 1 | grep -q 'GNU Wget'; then echo wget
  elif command -v node >/dev/null 2>&1; then echo node
  elif command -v python3 >/dev/null 2>&1; then echo python3
  else echo none
  fi
}

# urlenc TEXT: sets ENC to TEXT for a URL query or path segment (the characters a note or check ID may carry).
# Text without such characters is used as it is, and the last note encoded is remembered: the run loop sends
# the same IDs and, mostly, the same note every pass, and each encoding costs a sed.
_enc_in="" _enc_out=""
urlenc() {
  case $1 in
    *[%\ \&+#?\"\']*) ;;
    *)
      ENC=$1
      return 0
      ;;
  esac
  if [ "$1" != "$_enc_in" ] || [ -z "$_enc_out" ]; then
    _enc_out=$(printf '%s' "$1" | sed -e 's/%/%25/g' -e 's/ /%20/g' -e 's/&/%26/g' -e 's/+/%2B/g' -e 's/#/%23/g' -e 's/?/%3F/g' -e 's/"/%22/g' -e "s/'/%27/g")
    _enc_in=$1
  fi
  ENC=$_enc_out
}

# check_url VERB CHECK_ID NOTE: sets CHECK_URL to the agent's URL that updates the check (pass, warn or fail).
check_url() {
  urlenc "$2"
  CHECK_URL="$AMPHI_CONSUL/v1/agent/check/$1/$ENC"
  urlenc "$3"
  CHECK_URL="$CHECK_URL?note=$ENC"
}

# put_check VERB CHECK_ID NOTE: one check update; status 0 on a 2xx answer, else PUT_ERR says what happened.
# The token is read from files by the client (curl -K, WGETRC, node, python3): never on a command line.
put_check() {
  check_url "$@"
  _u=$CHECK_URL
  case $CLIENT in
    curl) _c=$(curl -q -s -o /dev/null -w '%{http_code}' -X PUT --max-time 5 -K "$HERE/curl.conf" "$_u" 2>/dev/null) ;;
    wget) if WGETRC="$HERE/wgetrc" wget -q -O /dev/null --method=PUT --timeout=5 --tries=1 "$_u" 2>/dev/null; then _c=200; else _c=failed; fi ;;
    node)
      _c=$(node -e 'const [u,f]=process.argv.slice(1);let t="";try{t=require("fs").readFileSync(f,"utf8").trim()}catch{}
const m=u.startsWith("https:")?require("https"):require("http");
const r=m.request(u,{method:"PUT",timeout:5000,headers:t?{"X-Consul-Token":t}:{}},(s)=>{process.stdout.write(String(s.statusCode));s.resume();s.on("end",()=>process.exit(0))});
r.on("timeout",()=>r.destroy());r.on("error",()=>process.exit(0));r.end()' "$_u" "$HERE/token" 2>/dev/null) ;;
    python3)
      _c=$(python3 -c 'import sys, urllib.request, urllib.error
try: t = open(sys.argv[2]).read().strip()
except Exception: t = ""
req = urllib.request.Request(sys.argv[1], data=b"", method="PUT", headers={"X-Consul-Token": t} if t else {})
try: print(urllib.request.urlopen(req, timeout=5).status)
except urllib.error.HTTPError as e: print(e.code)
except Exception: pass' "$_u" "$HERE/token" 2>/dev/null) ;;
    *) _c=noclient ;;
  esac
  case $_c in 2??) return 0 ;; esac
  PUT_ERR=${_c:-no answer}
  [ "$PUT_ERR" = 000 ] && PUT_ERR="no answer"
  return 1
}

# get_then_pass URL GUESS: with curl, the health GET and, when it answers 2xx/3xx, the pass PUT of each id of
# AMPHI_CHECKS with the note "GET URL: GUESS" (the code the last GET answered) in one curl process: -f with
# --fail-early ends it at a failing GET, before any PUT, and the token file is read for the PUTs only. A healthy
# pass then starts one process instead of two (curl is the largest cost of a pass: ~15 ms of CPU to start).
# Sets code (the GET's, 000 for no answer) and put_codes (one line per PUT sent, in the order of the ids;
# fewer when curl stopped early). The caller sends the PUTs again when the code was not GUESS.
get_then_pass() {
  _note="GET $1: $2"
  set -- -q -s -f --fail-early -o /dev/null -w '%{http_code}\n' --max-time "${AMPHI_TIMEOUT:-2}" "$1"
  for _id in $AMPHI_CHECKS; do
    check_url pass "$_id" "$_note"
    set -- "$@" --next -s -o /dev/null -w '%{http_code}\n' -X PUT --max-time 5 -K "$HERE/curl.conf" "$CHECK_URL"
  done
  _out=$(curl "$@" 2>/dev/null)
  code=${_out%%"$NL"*}
  case $code in [0-9][0-9][0-9]) ;; *) code=000 ;; esac
  case $_out in *"$NL"*) put_codes=${_out#*"$NL"} ;; *) put_codes="" ;; esac
}

# passed_puts: after get_then_pass, adds "ID: ERROR;" to errors for each id whose PUT did not answer 2xx.
passed_puts() {
  _rest=$put_codes
  for _id in $AMPHI_CHECKS; do
    _c=${_rest%%"$NL"*}
    case $_rest in *"$NL"*) _rest=${_rest#*"$NL"} ;; *) _rest="" ;; esac
    case $_c in
      2??) ;;
      "" | 000) errors="$errors $_id: no answer;" ;;
      *) errors="$errors $_id: $_c;" ;;
    esac
  done
}

say() { printf '%s amphi-report[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*"; }

# write_secret FILE TEXT: TEXT (no newline added) to FILE, mode 600, unless it holds it already; status 1
# when unchanged. printf is a shell builtin: the text is never an argument of another process.
write_secret() {
  if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then return 1; fi
  (umask 077 && printf '%s' "$2" >"$1.tmp") && mv -f "$1.tmp" "$1" || fail "cannot write $1"
}

case $mode in
  install)
    script=$1 envtext=$2
    cur=$APPDIR/current
    mkdir -p "$cur/.amphi" || fail "cannot create $cur"
    token=$(cat)
    changed=0
    write_if_changed "$cur/amphi-report" "$script" && changed=1
    write_secret "$cur/.amphi/env" "$envtext" && changed=1
    # The start command is fixed text; amphi-exec runs it in current/ with .amphi/env loaded.
    # shellcheck disable=SC2016 # expanded by amphi-exec's shell, not here
    write_if_changed "$cur/.amphi/start" 'exec /bin/sh ./amphi-report "$(cd ../../../.. && pwd)" "$AMPHI_REPORT_APP" "$AMPHI_REPORT_ENV" run' && changed=1
    write_if_changed "$cur/.amphi/user" "" && changed=1
    write_secret "$cur/token" "$token" && changed=1
    if [ -n "$token" ]; then
      write_secret "$cur/curl.conf" "header = \"X-Consul-Token: $token\"" && changed=1
      write_secret "$cur/wgetrc" "header = X-Consul-Token: $token" && changed=1
    else
      write_secret "$cur/curl.conf" "" && changed=1
      write_secret "$cur/wgetrc" "" && changed=1
    fi
    printf 'changed=%s\n' "$changed"
    if [ -n "$(app_pid)" ]; then echo "running=1"; else echo "running=0"; fi
    printf 'client=%s\n' "$(put_client)"
    ;;
  cleanup)
    for d in "$BASE"/apps/*; do
      [ -e "$d" ] && exit 0
    done
    if [ -d "$BASE" ]; then
      rm -f "$BASE/bin/amphi-supervise" "$BASE/bin/amphi-exec"
      rmdir "$BASE/bin" "$BASE/apps" "$BASE/run" "$BASE/logs" 2>/dev/null
      rmdir "$BASE" 2>/dev/null && echo "removed=reporter"
    fi
    exit 0
    ;;
  run)
    HERE=$(pwd)
    CLIENT=$(put_client)
    [ "$CLIENT" = none ] && say "no curl, GNU wget, node or python3: cannot update Consul checks (they will go critical)"
    last=""
    guess=200
    NL='
'
    while :; do
      errors=""
      sent=""
      find_app
      pid=$APP_PID
      if [ -z "$pid" ]; then
        verb=fail note="$APP is not running"
      else
        health_url
        url=$HEALTH_URL
        if [ -n "$url" ] && [ -n "${AMPHI_HEALTH_HOST:-}" ]; then
          case $AMPHI_HEALTH_HOST in *:*) _h="[$AMPHI_HEALTH_HOST]" ;; *) _h=$AMPHI_HEALTH_HOST ;; esac
          url="http://$_h:${url#*127.0.0.1:}"
        fi
        if [ -z "$url" ]; then
          verb=pass note="$APP is running (pid $pid)"
        else
          if [ "$CLIENT" = curl ]; then
            get_then_pass "$url" "$guess"
            case $code in 2?? | 3??) if [ "$code" = "$guess" ]; then sent=1; passed_puts; fi ;; esac
          elif http_code "$url" "${AMPHI_TIMEOUT:-2}"; then code=$HTTP_CODE; else code=noclient; fi
          case $code in
            2?? | 3??) verb=pass note="GET $url: $code" guess=$code ;;
            000) verb=fail note="GET $url: no answer" ;;
            noclient) verb=fail note="cannot GET $url: no curl, wget, node or python3" ;;
            *) verb=fail note="GET $url: $code" ;;
          esac
        fi
      fi
      if [ -z "$sent" ]; then
        for id in $AMPHI_CHECKS; do
          put_check "$verb" "$id" "$note" || errors="$errors $id: $PUT_ERR;"
        done
      fi
      line="$verb: $note${errors:+ (consul $AMPHI_CONSUL:$errors)}"
      if [ "$line" != "$last" ]; then
        say "$line"
        last=$line
      fi
      sleep "$AMPHI_INTERVAL"
    done
    ;;
  *) fail "unknown reporter mode $mode" ;;
esac
