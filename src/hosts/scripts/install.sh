# install.sh RELEASE SHA START USER HEALTH_PORT HEALTH_PATH VERIFY PORTS LIMIT GRACE < ENV_FILE
# Holds the app's lock (lock_app GRACE): the install of a run killed mid-task goes on on the host, and the
# next run's install must neither unpack beside it nor have its temp dir pruned away under it.
# Unpacks packages/SHA into apps/APP/releases/RELEASE (through a temp dir and one rename, so a half
# unpacked release never exists; VERIFY=1 checks the cached package's sha256 first: exit 3 and got=<sha>
# on a mismatch, the bad file deleted). A package tar cannot list or unpack, or whose listed sizes add up
# to more than LIMIT bytes (checked before anything is unpacked), is refused: exit 4 with refused=tar and
# reason=<what tar said>, or refused=size and size=<bytes>; the package, the temp dir and the directories
# this call created are deleted. Then writes the release's .amphi/ files: env (stdin, mode 600),
# start, user, health (to .amphi/next/ when RELEASE is the current release: see below). health holds
# "HEALTH_PORT HEALTH_PATH" (or nothing) and, on a second line, PORTS: the app's other listening ports,
# which the health gate checks belong to the app.
release=$1 sha=$2 start=$3 user=$4 hport=$5 hpath=$6 verify=$7 ports=${8:-} limit=${9:-4294967296}
rel=$APPDIR/releases/$release
pkg=$BASE/packages/$sha
[ -d "$APPDIR" ] || made_appdir=1
lock_app "${10:-10}"
# (a test before mkdir spares a process where there is nothing to do: the usual case of an update)
[ -d "$APPDIR/releases" ] || mkdir -p "$APPDIR/releases" || fail "cannot create $APPDIR/releases"

# refuse TMP: deletes the refused package, what was unpacked of it, and the app directories made here.
refuse() {
  rm -rf "$1"
  rm -f "$pkg"
  if [ "${made_appdir:-}" = 1 ]; then rmdir "$APPDIR/releases" "$APPDIR" 2>/dev/null; fi
  return 0
}

# refuse_tar TMP SAID: refuses with what tar said (its errors, without the lines that only say it stopped).
refuse_tar() {
  _why=$(printf '%s\n' "$2" | grep -v -e 'Exiting with failure status' -e 'Child returned status' -e 'Error is not recoverable' \
    -e 'Removing leading' -e 'removing leading' | sed '/^ *$/d' | head -n 5 | tr '\n' ';' |
    sed 's/;$//; s/;/; /g' | cut -c1-400)
  refuse "$1"
  printf 'refused=tar\nreason=%s\n' "${_why:-tar failed without saying why}"
  exit 4
}

# write_meta DIR IN_PLACE: writes the release's env (from stdin, mode 600), start, user and health files into DIR:
# each in one rename, or with IN_PLACE=1 straight in (DIR is in a release not yet renamed into place: the whole
# release appears at once, so a half-written file is never seen, and four mv processes are spared). DIR may be
# relative (inside enter_meta); messages name the release's .amphi/.
write_meta() {
  _hl=""
  if [ -n "$hport" ]; then _hl="$hport $hpath"; fi
  if [ -n "$ports" ]; then _hl="$_hl
$ports"; fi
  if [ "$2" = 1 ]; then
    { (umask 077 && cat >"$1/env") && printf '%s\n' "$start" >"$1/start" && printf '%s\n' "$user" >"$1/user" &&
      printf '%s\n' "$_hl" >"$1/health"; } || fail "cannot write the files of $meta"
  else
    (umask 077 && cat >"$1/env.tmp") && mv -f "$1/env.tmp" "$1/env" || fail "cannot write the env file of $meta"
    put "$1/start" "$start"
    put "$1/user" "$user"
    put "$1/health" "$_hl"
  fi
}

meta=$rel/.amphi
if [ ! -d "$rel" ]; then
  [ -f "$pkg" ] || fail "packages/$sha is missing"
  if [ "$verify" = 1 ]; then
    got=$(sha256_of "$pkg") || fail "cannot compute the sha256 of packages/$sha"
    if [ "$got" != "$sha" ]; then
      rm -f "$pkg"
      printf 'got=%s\n' "$got"
      exit 3
    fi
  fi
  tmp=$APPDIR/releases/.tmp.$release.$$
  rm_rf "$tmp" && mkdir "$tmp" || fail "cannot create $tmp"
  # The sizes tar lists (field 3 in GNU and busybox listings) before anything is written. What tar says on a
  # failure is asked again then (no temp file for it on the way that succeeds).
  listed=$({ tar -t -v -z -f "$pkg" 2>/dev/null; echo "rc $?"; } | awk -v limit="$limit" '
    $1 == "rc" && NF == 2 { rc = $2; next }
    { s += $3 }
    END { printf "%s %.0f %d\n", rc, s, (s > limit + 0) }')
  # shellcheck disable=SC2086 # three numbers, split on purpose
  set -- $listed
  if [ "$1" != 0 ]; then refuse_tar "$tmp" "$(tar -t -z -f "$pkg" 2>&1 >/dev/null)"; fi
  if [ "$3" = 1 ]; then
    refuse "$tmp"
    printf 'refused=size\nsize=%s\n' "$2"
    exit 4
  fi
  # -o: files belong to whoever unpacks, never to the uid/gid stored in the archive
  if ! said=$(tar -x -z -o -f "$pkg" -C "$tmp" 2>&1); then refuse_tar "$tmp" "$said"; fi
  # amphi's own files go in a .amphi/ made here: one the package brought (its links could point anywhere,
  # and these files are written as the login user) is not kept
  rm_rf "$tmp/.amphi" && mkdir "$tmp/.amphi" || fail "cannot create $tmp/.amphi"
  write_meta "$tmp/.amphi" 1
  mv "$tmp" "$rel" || fail "cannot create $rel"
else
  [ -d "$meta" ] || [ -L "$meta" ] || mkdir -p "$meta" || fail "cannot create $meta"
  find_current
  # The current release (an env or start command change in place) gets its new files in .amphi/next/;
  # `control.sh activate` swaps them in once the app is stopped, so the running app's files change only
  # when it restarts, and a deploy that stops before that leaves them as they were. Inside .amphi/ (enter_meta).
  (
    enter_meta "$meta"
    dest=.
    rm_rf next
    if [ "$CURRENT" = "$release" ] && [ -f start ]; then
      dest=next
      mkdir next || fail "cannot create $meta/next"
    fi
    write_meta "$dest" 0
  ) || exit 1
fi
# A run-as user owns the release's files (apps may write next to themselves), but never .amphi/: amphi-exec
# reads it as root, so a file the app could change would run as root.
if [ -n "$user" ] && [ "$UID_NOW" = 0 ]; then
  owner=$(id -u "$user"):$(id -g "$user") || fail "no user $user"
  chown -R "$owner" "$rel" && chown -R 0:0 "$meta" || fail "cannot give $rel to $user"
fi
