# receive.sh UPLOAD SHA RMPACKAGES RMBASE: checks an uploaded package (packages/UPLOAD) against SHA and
# moves it to packages/SHA; on a mismatch deletes it, and the directories the upload created (RMPACKAGES,
# RMBASE = 1), prints got=<sha> and exits 3, so a refused package leaves the host as it was.
upload=$BASE/packages/$1 sha=$2
got=$(sha256_of "$upload")
case $? in
  0) ;;
  2) rm -f "$upload"; fail "no sha256 tool on the host (sha256sum, shasum or openssl)" ;;
  *) rm -f "$upload"; fail "cannot read the uploaded package" ;;
esac
if [ "$got" != "$sha" ]; then
  rm -f "$upload"
  if [ "$3" = 1 ]; then rmdir "$BASE/packages" 2>/dev/null; fi
  if [ "$4" = 1 ]; then rmdir "$BASE" 2>/dev/null; fi
  printf 'got=%s\n' "$got"
  exit 3
fi
mv -f "$upload" "$BASE/packages/$sha" || fail "cannot store packages/$sha"
