# mesh-dns.sh: mesh-dns on a VM host (see src/hosts/mesh-dns.ts), run after lib.sh with BASE=<baseDir>/mesh and
# APP=mesh.dns: the program and its config sit in BASE (mesh-dns.mjs, dns.json, token), the supervised
# "app" that runs it in BASE/apps/mesh.dns/current/ (amphi-mesh-dns: lib.sh + this file, .amphi/env|start|
# user), started and stopped by the same control script and supervisor as apps. Modes:
#   inspect            prints uid=, node= (path, empty when missing), sha= (of mesh-dns.mjs, empty when
#                      absent), machine= (uname -m), addon= (sha256 of udp-batch.node, empty when absent),
#                      running=0|1, and ns=/resolved= for each nameserver of /etc/resolv.conf and
#                      /run/systemd/resolve/resolv.conf.
#   program SHA256 [FILE]  < bytes: installs BASE/FILE (mesh-dns.mjs, the default, or udp-batch.node, the
#                      batched UDP addon mesh-dns loads from its own directory) mode 644 when its sha256 is SHA256.
#   install CONFIG UID ENV SCRIPT  < token: writes dns.json (CONFIG), the token file (mode 600, owned by UID;
#                      removed when the token is empty), current/amphi-mesh-dns (SCRIPT), .amphi/env (ENV)
#                      and the rest of .amphi/. Prints
#                      changed=0|1, running=0|1.
#   check PORT NAME SECONDS   waits until something answers a DNS query for NAME on 127.0.0.1:PORT (udp).
#                      Prints result=ok|timeout; on timeout the last log lines as log: lines.
#   remove GRACE       stops mesh-dns, removes its systemd unit (if any) and BASE. Prints removed=1 when
#                      there was anything.
#   run                (the installed copy, started by amphi-exec as root in current/ with AMPHI_DNS_UID and
#                      AMPHI_NODE from .amphi/env): execs node mesh-dns.mjs dns.json as the proxy uid. Why that
#                      uid: the capture rules leave its traffic alone, so mesh-dns's own upstream queries are
#                      not redirected back to it. setpriv needs no passwd entry for the uid; runuser does.
mode=$1
shift

case $mode in
  inspect)
    # Plans read this on every host each time: builtins and the shell's own reads where they do (no $( ) subshell)
    printf 'uid=%s\nnode=' "$UID_NOW"
    command -v node 2>/dev/null || echo
    sha=""
    [ -f "$BASE/mesh-dns.mjs" ] && sha=$(sha256_of "$BASE/mesh-dns.mjs")
    printf 'sha=%s\n' "$sha"
    printf 'machine=%s\n' "$(uname -m)"
    addon=""
    [ -f "$BASE/udp-batch.node" ] && addon=$(sha256_of "$BASE/udp-batch.node")
    printf 'addon=%s\n' "$addon"
    find_app
    if [ -n "$APP_PID" ]; then echo "running=1"; else echo "running=0"; fi
    # one awk over the resolv.conf files there are (a file awk cannot open would end some awks before the next)
    set --
    for f in /etc/resolv.conf /run/systemd/resolve/resolv.conf; do [ -r "$f" ] && set -- "$@" "$f"; done
    [ $# -eq 0 ] || awk '$1 == "nameserver" && NF > 1 { print (FILENAME == "/etc/resolv.conf" ? "ns=" : "resolved=") $2 }' "$@" 2>/dev/null
    exit 0
    ;;
  program)
    want=$1 file=${2:-mesh-dns.mjs}
    case $file in
      mesh-dns.mjs | udp-batch.node) ;;
      *) fail "program: unknown file $file" ;;
    esac
    mkdir -p "$BASE" && chmod 755 "$BASE" || fail "cannot create $BASE"
    cat >"$BASE/$file.tmp.$$" || fail "cannot write $BASE/$file"
    got=$(sha256_of "$BASE/$file.tmp.$$") || { rm -f "$BASE/$file.tmp.$$"; fail "no sha256sum, shasum or openssl on this host"; }
    if [ "$got" != "$want" ]; then
      rm -f "$BASE/$file.tmp.$$"
      fail "$file arrived with sha256 $got, expected $want"
    fi
    chmod 644 "$BASE/$file.tmp.$$" && mv -f "$BASE/$file.tmp.$$" "$BASE/$file" || fail "cannot install $BASE/$file"
    echo "changed=1"
    ;;
  install)
    config=$1 uid=$2 envtext=$3 script=$4
    cur=$APPDIR/current
    mkdir -p "$cur/.amphi" && chmod 755 "$BASE" || fail "cannot create $cur"
    token=$(cat)
    changed=0
    write_if_changed "$BASE/dns.json" "$config" && changed=1
    chmod 644 "$BASE/dns.json"
    if [ -n "$token" ]; then
      if ! [ -f "$BASE/token" ] || [ "$(cat "$BASE/token")" != "$token" ]; then
        (umask 077 && printf '%s' "$token" >"$BASE/token.tmp") && chown "$uid" "$BASE/token.tmp" && mv -f "$BASE/token.tmp" "$BASE/token" ||
          fail "cannot write $BASE/token"
        changed=1
      fi
    elif [ -e "$BASE/token" ]; then
      rm -f "$BASE/token" && changed=1
    fi
    write_if_changed "$cur/amphi-mesh-dns" "$script" && changed=1
    write_if_changed "$cur/.amphi/env" "$envtext" && changed=1
    # shellcheck disable=SC2016 # expanded by amphi-exec's shell, not here
    write_if_changed "$cur/.amphi/start" 'exec /bin/sh ./amphi-mesh-dns "$(cd ../../.. && pwd)" mesh.dns "$AMPHI_DNS_ENV" run' && changed=1
    write_if_changed "$cur/.amphi/user" "" && changed=1
    printf 'changed=%s\n' "$changed"
    if [ -n "$(app_pid)" ]; then echo "running=1"; else echo "running=0"; fi
    ;;
  check)
    port=$1 name=$2 secs=$3
    if node -e 'const [port, name, secs] = process.argv.slice(1);
const dgram = require("dgram");
const labels = name.split(".").filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
const end = Date.now() + Number(secs) * 1000;
const once = () => new Promise((done) => {
  const id = Math.floor(Math.random() * 65536);
  const q = Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  const s = dgram.createSocket("udp4");
  const t = setTimeout(() => { s.close(); done(false); }, 300);
  s.on("error", () => { clearTimeout(t); s.close(); setTimeout(() => done(false), 100); });
  s.on("message", (m) => { if (m.length >= 2 && m.readUInt16BE(0) === id) { clearTimeout(t); s.close(); done(true); } });
  s.send(q, Number(port), "127.0.0.1");
});
(async () => { while (Date.now() < end) if (await once()) process.exit(0); process.exit(1); })();' "$port" "$name" "$secs"; then
      echo "result=ok"
    else
      echo "result=timeout"
      tail -n 5 "$LOG" 2>/dev/null | sed 's/^/log: /'
    fi
    ;;
  remove)
    grace=$1
    any=0
    if ! app_stopped; then
      stop_app "$grace"
      any=1
    fi
    if [ -f "$UNITFILE" ]; then
      systemctl disable -q --now "$UNIT" 2>/dev/null
      rm -f "$UNITFILE" && systemctl daemon-reload
      any=1
    fi
    if [ -e "$BASE" ]; then
      rm -rf "$BASE" || fail "cannot remove $BASE"
      any=1
    fi
    [ "$any" = 1 ] && echo "removed=1"
    exit 0
    ;;
  run)
    uid=$AMPHI_DNS_UID
    set -- "${AMPHI_NODE:-node}" "$BASE/mesh-dns.mjs" "$BASE/dns.json"
    [ "$(id -u)" = "$uid" ] && exec "$@"
    command -v setpriv >/dev/null 2>&1 && exec setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
    user=$(awk -F: -v u="$uid" '$3 == u { print $1; exit }' /etc/passwd)
    [ -n "$user" ] && command -v runuser >/dev/null 2>&1 && exec runuser -u "$user" -- "$@"
    fail "mesh-dns: cannot switch to uid $uid (no setpriv; runuser needs a user with that uid in /etc/passwd)"
    ;;
  *) fail "unknown mesh-dns mode $mode" ;;
esac
