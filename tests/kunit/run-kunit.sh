#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/kunit/run-kunit.sh [FILTER_GLOB]
#
# Runs the gaitmat KUnit suites in a User-Mode Linux kernel built from
# Debian's linux-source-6.1 with KASAN and lockdep, and prints
#   RESULT: N passed, N failed, N skipped
# for scripts/suite. Exits non-zero when a test failed, the build failed, an
# expected suite did not run, or the kernel printed a BUG/WARNING splat
# (lockdep reports do not fail a KUnit test by themselves).
#
# The kernel tree and the build directory live in a cache outside the work
# tree so that re-runs are incremental:
#   KUNIT_CACHE   cache folder (default /var/cache/gaitcap/kunit, or
#                 $BUILD/kunit-cache when that is not writable)
#   KUNIT_JOBS    make jobs (default 2: the machines have two cores)
#   KUNIT_TIMEOUT seconds the UML kernel may run (default 300)
# Outputs in $BUILD/kunit/: kunit.json (kunit.py's parsed results), test.log
# (the raw console of the UML kernel), ktap.log (its KTAP lines only) and
# kunitconfig (the configuration used).
set -u -o pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/kunit
build=${BUILD:-$top/build}
out=$build/kunit
tarball=/usr/src/linux-source-6.1.tar.xz
jobs=${KUNIT_JOBS:-2}
timeout=${KUNIT_TIMEOUT:-300}
filter=${1:-}

say() { echo "run-kunit: $*"; }

# Report and exit: RESULT line first so scripts/suite always finds it.
finish() {
	local pass=$1 fail=$2 skip=$3 why=${4:-}
	[ -n "$why" ] && say "$why"
	echo "RESULT: $pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ] && [ $((pass + skip)) -gt 0 ]
	exit $?
}

# Suites this run must report, read from the test sources it builds (every
# suite they register); anything missing from the results is a failure.
results=$here/kunit-results.py
if [ "$filter" = --list-suites ]; then
	"$results" suites "$here"/*_kunit.c
	exit
fi
names=$("$results" suites "$here/gaitmat_proto_kunit.c") ||
	finish 0 1 0 "could not read the suites of gaitmat_proto_kunit.c"
read -ra expected_suites <<<"$names"

pick_cache() {
	local c=${KUNIT_CACHE:-/var/cache/gaitcap/kunit}
	if mkdir -p "$c" 2>/dev/null && [ -w "$c" ]; then
		echo "$c"
	else
		echo "$build/kunit-cache"
	fi
}

for tool in python3 gcc make bc bison flex xz tar flock; do
	command -v "$tool" >/dev/null ||
		finish 0 1 0 "$tool is missing (scripts/install-deps.sh installs it)"
done
[ -r "$tarball" ] ||
	finish 0 1 0 "$tarball is missing (package linux-source-6.1)"

cache=$(pick_cache)
mkdir -p "$cache" "$out"
src=$cache/linux-source-6.1
kbuild=$cache/build
stamp=$src/.gaitcap-extracted

# One run at a time per cache: two kunit.py builds in one tree would trample
# each other's objects.
exec 9>"$cache/.lock"
if ! flock -n 9; then
	say "waiting for another KUnit run using $cache"
	flock -w 3600 9 || finish 0 1 0 "could not lock $cache"
fi

# ---- 1. The kernel tree: extracted once, reused while the tarball is the same.
want=$(stat -L -c '%s %Y' "$tarball")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	say "extracting $tarball into $cache"
	t0=$(date +%s)
	tmp=$cache/.extract.$$
	rm -rf "$tmp" "$src" "$kbuild"
	mkdir -p "$tmp"
	tar -xf "$tarball" -C "$tmp" ||
		{ rm -rf "$tmp"; finish 0 1 0 "extracting $tarball failed"; }
	mv "$tmp/linux-source-6.1" "$src" && rmdir "$tmp"
	# The stamp is written last: a cut-off extraction is redone.
	echo "$want" >"$stamp"
	say "extracted in $(($(date +%s) - t0)) s"
fi

# ---- 2. Our sources in drivers/iio/gaitmat/: staged first, then copied only
# when changed so that make's timestamps keep the build incremental.
gdir=$src/drivers/iio/gaitmat
stage=$cache/stage
rm -rf "$stage"
mkdir -p "$gdir" "$stage"

core_files=(driver/gaitmat_core.c driver/gaitmat_virt.c driver/gaitmat.h
	    driver/Kbuild tests/kunit/gaitmat_core_kunit.c)
have_core=1
for f in "${core_files[@]}"; do
	[ -f "$top/$f" ] || { have_core=0; missing_core=$f; break; }
done
for f in driver/gaitmat_proto.c driver/gaitmat_proto.h \
	 tests/kunit/gaitmat_proto_kunit.c tests/kunit/Kconfig.gaitmat \
	 tests/kunit/Kbuild.gaitmat; do
	[ -f "$top/$f" ] || finish 0 1 0 "$f is missing"
done

cp "$here/Kconfig.gaitmat" "$stage/Kconfig"
cp "$here/gaitmat_proto_kunit.c" "$stage/"
if [ $have_core -eq 1 ]; then
	# The driver as it builds itself (driver/Kbuild, every source), plus
	# our lines; CONFIG_GAITMAT=y links the codec into gaitmat.o.
	cp "$top"/driver/*.c "$top"/driver/*.h "$stage/"
	cat "$top/driver/Kbuild" "$here/Kbuild.gaitmat" >"$stage/Makefile"
	cp "$here/gaitmat_core_kunit.c" "$stage/"
	# The life-cycle tests need the virtual transport's internals: the
	# driver compiles them inside gaitmat_virt.c itself, under
	# CONFIG_GAITMAT_CORE_KUNIT_TEST (see gaitmat_core_kunit.c).
	grep -q '^#include "gaitmat_core_kunit.c"' "$stage/gaitmat_virt.c" ||
		finish 0 1 0 "driver/gaitmat_virt.c does not include gaitmat_core_kunit.c: the life-cycle suite cannot be built"
	names=$("$results" suites "$here/gaitmat_core_kunit.c") ||
		finish 0 1 0 "could not read the suites of gaitmat_core_kunit.c"
	read -ra core_suites <<<"$names"
	expected_suites+=("${core_suites[@]}")
else
	cp "$top/driver/gaitmat_proto.c" "$top"/driver/*.h "$stage/"
	{ echo 'obj-$(CONFIG_GAITMAT_PROTO) += gaitmat_proto.o'
	  cat "$here/Kbuild.gaitmat"; } >"$stage/Makefile"
fi
for f in "$stage"/*; do
	cmp -s "$f" "$gdir/${f##*/}" || cp "$f" "$gdir/${f##*/}"
done
# Files we placed before but no longer have (a renamed header, the core
# gone) must not linger in the tree.
for f in "$gdir"/*; do
	[ -e "$stage/${f##*/}" ] || rm -f "$f"
done

# Hook the folder into drivers/iio once; re-runs leave the files untouched.
grep -q 'drivers/iio/gaitmat/Kconfig' "$src/drivers/iio/Kconfig" ||
	sed -i '/^endif # IIO$/i source "drivers/iio/gaitmat/Kconfig"' \
		"$src/drivers/iio/Kconfig"
grep -q 'drivers/iio/gaitmat/Kconfig' "$src/drivers/iio/Kconfig" ||
	finish 0 1 0 "could not hook gaitmat into drivers/iio/Kconfig"
grep -q '^obj-y += gaitmat/$' "$src/drivers/iio/Makefile" ||
	echo 'obj-y += gaitmat/' >>"$src/drivers/iio/Makefile"

# ---- 3. The configuration: the core block only once the core exists.
kcfg=$out/kunitconfig
if [ $have_core -eq 1 ]; then
	cp "$here/kunitconfig" "$kcfg"
else
	sed '/^# begin gaitmat-core/,/^# end gaitmat-core/d' \
		"$here/kunitconfig" >"$kcfg"
fi

# ---- 4. Build and run.
rm -f "$out/kunit.json" "$out/test.log" "$out/ktap.log"
say "cache $cache, build dir $kbuild, jobs $jobs"
t0=$(date +%s)
args=(run --kunitconfig="$kcfg" --build_dir="$kbuild" --jobs="$jobs"
      --timeout="$timeout" --json="$out/kunit.json")
[ -n "$filter" ] && args+=("$filter")
(cd "$src" && ./tools/testing/kunit/kunit.py "${args[@]}")
rc=$?
say "kunit.py exited $rc after $(($(date +%s) - t0)) s"

if [ -f "$kbuild/test.log" ]; then
	cp "$kbuild/test.log" "$out/test.log"
	(cd "$src" && ./tools/testing/kunit/kunit.py parse --raw_output=kunit \
		"$out/test.log") >"$out/ktap.log" 2>&1
fi

extra_fail=0
extra_skip=0
if [ $have_core -eq 0 ]; then
	say "SKIP gaitmat_core: ${missing_core} is not there yet; the life-cycle suite was not built"
	extra_skip=1
fi
if [ ! -f "$out/kunit.json" ]; then
	# No results at all: the configuration or the build failed (kunit.py
	# printed make's errors above), or the kernel never started.
	finish 0 $((1 + extra_fail)) "$extra_skip" \
		"no results: configuring, building or booting the UML kernel failed"
fi

# Kernel splats that do not fail a KUnit test on their own.
if grep -nE '(BUG|WARNING): |possible (circular|recursive) locking|inconsistent lock state|Kernel panic' \
	"$out/test.log" >"$out/splats.txt" 2>/dev/null; then
	say "the kernel printed warnings (counted as one failure):"
	head -n 20 "$out/splats.txt" | sed 's/^/  /'
	extra_fail=$((extra_fail + 1))
fi

# Count leaf tests and check that every expected suite reported.
counts=$("$results" count "$out/kunit.json" "$filter" "${expected_suites[@]}") ||
	finish 0 1 0 "could not read $out/kunit.json"
read -r pass fail skip <<<"$counts"
fail=$((fail + extra_fail))
skip=$((skip + extra_skip))
if [ $rc -ne 0 ] && [ "$fail" -eq 0 ]; then
	fail=1
	say "kunit.py reported a failure that is not a failed test case"
fi
finish "$pass" "$fail" "$skip"
