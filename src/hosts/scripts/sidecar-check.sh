# sidecar-check.sh MODE ...: a host's Envoy as clients need it (run alone, without lib.sh: `sh -c SCRIPT amphi`).
# Modes:
#   ready ADMIN INBOUND OUTBOUND SECONDS  waits until Envoy's admin GET 127.0.0.1:ADMIN/ready answers 200 and
#           both capture ports accept TCP on 127.0.0.1. Prints result=ok|timeout, ready=<last status, 000: no
#           answer>, inbound=0|1, outbound=0|1. Exit 1: no way to check (see below).
#   drain ADMIN SECONDS  POST 127.0.0.1:ADMIN/drain_listeners?graceful, then waits SECONDS for connections to
#           finish (Envoy keeps serving them, refuses new ones). Prints drained=<status, 000: no answer>.
# `ready` on Linux with curl or wget: the script itself polls five times a second: one awk over /proc/net/tcp and tcp6
# for a socket listening on the admin port and on each capture port at 127.0.0.1 or the wildcard address, then, once
# the admin port listens, curl or wget for /ready.
# It never connects to a capture port: a connection made there directly, not REDIRECTed, has the listener itself as
# its original destination, so the pass-through chain sends it back to the listener, which sends it on again — a
# loop of hundreds of connections per probe, in Envoy as in its test double. Elsewhere, and for `drain`, a node (as
# mesh-dns needs) or python3 check is exec'd. Either way the check is the script's pid, so a signal to that pid (a
# timeout, a cancel) ends it, and its exit status is the script's.
mode=$1
shift
if [ "$mode" = ready ] && [ -r /proc/net/tcp ] && { command -v curl || command -v wget; } >/dev/null 2>&1; then
  admin=$1 inb=$2 outb=$3 secs=$4
  # tick: sets `cs` to hundredths of a second since boot (the shell's own read of /proc/uptime: no process), or
  # from date where that cannot be read; only differences mean anything.
  tick() {
    if { read -r _up _ </proc/uptime; } 2>/dev/null && [ "${_up#*.}" != "$_up" ]; then cs=${_up%.*}${_up#*.}; else cs=$(($(date +%s) * 100)); fi
    cs=${cs#"${cs%%[!0]*}"}
    cs=${cs:-0}
  }
  tick
  end=$((cs + secs * 100))
  files=/proc/net/tcp
  if [ -r /proc/net/tcp6 ]; then files="$files /proc/net/tcp6"; fi
  curl=""
  if command -v curl >/dev/null 2>&1; then curl=1; fi
  while :; do
    # One awk over /proc/net/tcp and tcp6 each pass: whether a socket listens on the admin port (until one does, /ready
    # is asked without starting curl or wget: nothing could answer) and on each capture port, at 127.0.0.1 or the
    # wildcard address.
    # shellcheck disable=SC2086,SC2046 # the file list and awk's three flags, split on purpose
    set -- $(awk -v m="$admin" -v a="$inb" -v b="$outb" '
      $4 == "0A" {
        n = split($2, x, ":"); h = toupper(x[n]); p = 0
        for (k = 1; k <= length(h); k++) p = p * 16 + index("0123456789ABCDEF", substr(h, k, 1)) - 1
        if (p == m) l = 1
        ad = x[1]
        if (ad == "0100007F" || ad ~ /^0+$/ || ad == "0000000000000000FFFF00000100007F") { if (p == a) i = 1; if (p == b) o = 1 }
      }
      END { printf "%d %d %d\n", l, i, o }' $files 2>/dev/null)
    l=${1:-1} i=${2:-0} o=${3:-0}
    r=000
    if [ "$l" = 0 ]; then
      :
    elif [ -n "$curl" ]; then
      r=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$admin/ready" 2>/dev/null)
    else
      # busybox wget has no -T and crashes on -q -S; timeout(1) bounds both wgets (as lib.sh's http_code)
      r=$(timeout 1 wget -S -O /dev/null "http://127.0.0.1:$admin/ready" 2>&1 | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | head -n 1)
    fi
    case $r in [0-9][0-9][0-9]) ;; *) r=000 ;; esac
    tick
    if { [ "$r" = 200 ] && [ "$i" = 1 ] && [ "$o" = 1 ]; } || [ "$cs" -ge "$end" ]; then
      if [ "$r" = 200 ] && [ "$i" = 1 ] && [ "$o" = 1 ]; then res=ok; else res=timeout; fi
      printf 'result=%s\nready=%s\ninbound=%s\noutbound=%s\n' "$res" "$r" "$i" "$o"
      exit 0
    fi
    sleep 0.2 2>/dev/null || sleep 1
  done
fi
if command -v node >/dev/null 2>&1; then
  case $mode in
    ready)
      # shellcheck disable=SC2016 # JavaScript, not shell
      exec node -e 'const net = require("net"), http = require("http");
const [admin, inb, outb, secs] = process.argv.slice(1).map(Number);
const end = Date.now() + secs * 1000;
const status = () => new Promise((done) => {
  const r = http.get({ host: "127.0.0.1", port: admin, path: "/ready", timeout: 1000 }, (s) => { s.resume(); done(String(s.statusCode)); });
  r.on("timeout", () => r.destroy()); r.on("error", () => done("000"));
});
const accepts = (port) => new Promise((done) => {
  const s = net.connect({ host: "127.0.0.1", port, timeout: 1000 });
  s.on("connect", () => { s.destroy(); done(1); }); s.on("timeout", () => { s.destroy(); done(0); }); s.on("error", () => done(0));
});
(async () => {
  for (;;) {
    const [r, i, o] = await Promise.all([status(), accepts(inb), accepts(outb)]);
    const ok = r === "200" && i && o;
    if (ok || Date.now() >= end) { console.log(`result=${ok ? "ok" : "timeout"}\nready=${r}\ninbound=${i}\noutbound=${o}`); process.exit(0); }
    await new Promise((t) => setTimeout(t, 200));
  }
})();' "$@"
      ;;
    drain)
      # shellcheck disable=SC2016 # JavaScript, not shell
      exec node -e 'const http = require("http");
const [admin, secs] = process.argv.slice(1).map(Number);
const r = http.request({ host: "127.0.0.1", port: admin, path: "/drain_listeners?graceful", method: "POST", timeout: 2000 }, (s) => {
  s.resume(); console.log(`drained=${s.statusCode}`); setTimeout(() => process.exit(0), secs * 1000);
});
r.on("timeout", () => r.destroy()); r.on("error", () => { console.log("drained=000"); process.exit(0); }); r.end();' "$@"
      ;;
    *)
      echo "amphi: sidecar-check: unknown mode '$mode' (ready, drain)" >&2
      exit 2
      ;;
  esac
elif command -v python3 >/dev/null 2>&1; then
  exec python3 -c 'import socket, sys, time, urllib.request, urllib.error
mode, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
def status(admin, path, method="GET"):
    try: return str(urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d%s" % (admin, path), method=method, data=b"" if method == "POST" else None), timeout=1).status)
    except urllib.error.HTTPError as e: return str(e.code)
    except Exception: return "000"
def accepts(port):
    try: socket.create_connection(("127.0.0.1", port), timeout=1).close(); return 1
    except Exception: return 0
if mode == "drain":
    print("drained=" + status(args[0], "/drain_listeners?graceful", "POST")); sys.stdout.flush(); time.sleep(args[1]); sys.exit(0)
admin, inb, outb, secs = args
end = time.time() + secs
while True:
    r, i, o = status(admin, "/ready"), accepts(inb), accepts(outb)
    ok = r == "200" and i and o
    if ok or time.time() >= end:
        print("result=%s\nready=%s\ninbound=%d\noutbound=%d" % ("ok" if ok else "timeout", r, i, o)); sys.exit(0)
    time.sleep(0.2)' "$mode" "$@"
fi
echo "amphi: checking the sidecar needs node or python3 on this host" >&2
false
