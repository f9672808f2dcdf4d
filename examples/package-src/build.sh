#!/bin/sh
# Rebuilds the example packages byte-for-byte (sorted, fixed mtime and owner, gzip without name/time),
# so the sha256 values in examples/config stay valid. Usage: sh examples/package-src/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../config/packages"
mkdir -p "$out"
for pkg in billing-2.3.0 catalog-1.8.1; do
  stage=$(mktemp -d)
  cp "$here/hello/server.mjs" "$stage/"
  echo "${pkg##*-}" > "$stage/VERSION"
  tar -C "$stage" --sort=name --mtime='2026-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner \
    -cf - . | gzip -n -9 > "$out/$pkg.tar.gz"
  rm -rf "$stage"
  sha256sum "$out/$pkg.tar.gz"
done
