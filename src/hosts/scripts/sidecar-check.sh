# sidecar-check.sh MODE ...: a host's Envoy as clients need it (run alone, without lib.sh: `sh -c SCRIPT amphi`).
# Needs node (as mesh-dns does) or python3. Modes:
#   ready ADMIN INBOUND OUTBOUND SECONDS  waits until Envoy's admin GET 127.0.0.1:ADMIN/ready answers 200 and
#           both capture ports accept TCP on 127.0.0.1. Prints result=ok|timeout, ready=<last status, 000: no
#           answer>, inbound=0|1, outbound=0|1. Exit 1: neither node nor python3.
#   drain ADMIN SECONDS  POST 127.0.0.1:ADMIN/drain_listeners?graceful, then waits SECONDS for connections to
#           finish (Envoy keeps serving them, refuses new ones). Prints drained=<status, 000: no answer>.
# The check is exec'd: it is the script's pid, so a signal to that pid (a timeout, a cancel) ends the check itself,
# and its exit status is the script's.
mode=$1
shift
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
