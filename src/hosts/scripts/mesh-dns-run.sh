# run.sh: starts mesh-dns as the proxy uid (installed by amphi as <baseDir>/mesh/apps/mesh.dns/current/run.sh;
# do not edit). amphi-exec runs it as root in that directory with AMPHI_DNS_UID and AMPHI_NODE from
# .amphi/env. Why the proxy uid: the capture rules leave its traffic alone, so mesh-dns's own upstream
# queries are not redirected back to it. The uid needs no passwd entry (setpriv); runuser needs one.
mesh=$(cd ../../.. && pwd) || exit 1
uid=$AMPHI_DNS_UID
node=${AMPHI_NODE:-node}
set -- "$node" "$mesh/mesh-dns.mjs" "$mesh/dns.json"
[ "$(id -u)" = "$uid" ] && exec "$@"
if command -v setpriv >/dev/null 2>&1; then
  exec setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
fi
user=$(awk -F: -v u="$uid" '$3 == u { print $1; exit }' /etc/passwd)
if [ -n "$user" ] && command -v runuser >/dev/null 2>&1; then
  exec runuser -u "$user" -- "$@"
fi
echo "mesh-dns: cannot switch to uid $uid (no setpriv; runuser needs a user with that uid in /etc/passwd)" >&2
exit 1
