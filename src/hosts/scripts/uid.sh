# uid.sh: sets UID_NOW to this shell's effective uid, as `id -u` prints it, from the Uid: line of /proc/self/status
# (read by the shell itself: no process; fields real, effective, saved, fs), or from id -u where there is no /proc.
# amphi puts it before lib.sh and before the scripts that run without lib.sh but need the uid (capture-inspect.sh).
UID_NOW=""
{ while read -r _k _ _e _; do
  if [ "$_k" = Uid: ]; then
    UID_NOW=$_e
    break
  fi
done </proc/self/status; } 2>/dev/null
[ -n "$UID_NOW" ] || UID_NOW=$(id -u)
