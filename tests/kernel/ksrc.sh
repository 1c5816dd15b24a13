#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/kernel/ksrc.sh: print the folder holding the few files of Debian's
# linux-source-6.1 that the driver's checks and the selftests use
# (checkpatch and its data, the kselftest harness), extracting them into
# $BUILD/ksrc once. The files are used from there at build time, never
# copied into the repository.
set -eu -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
tarball=${KSRC_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
dir=$build/ksrc
src=$dir/linux-source-6.1
files=(
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
	tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
)
stamp=$dir/.stamp
want="$(stat -L -c '%s %Y' "$tarball") ${files[*]}"

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	rm -rf "$src"
	tar -xJf "$tarball" -C "$dir" "${files[@]/#/linux-source-6.1/}" >&2
	echo "$want" >"$stamp"
fi
echo "$src"
