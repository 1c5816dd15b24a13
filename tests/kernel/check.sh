#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/kernel/check.sh CHECK: one kernel-side check of the gaitmat driver,
# printing TAP (one line per kernel, file or program) for scripts/suite.
#
#   build       the modules build for every kernel we ship for, warning-free
#   checkpatch  scripts/checkpatch.pl --strict on every driver file
#   sparse      make C=2 against the 6.1 headers: no sparse report per file
#   selftests   the guest's kselftest binaries build with -Werror
set -u -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
export BUILD=$build
n=0
failed=0
# The header trees, one per kernel we ship for (scripts/kdir), looked up
# now rather than handed down by a Makefile; KDIRS= overrides the list.
missing=""
kdirs=${KDIRS:-}
if [ -z "$kdirs" ]; then
	for s in 6.1 6.12; do
		k=$("$top/scripts/kdir" "$s") || { missing+=" $s"; continue; }
		kdirs+=" $k"
	done
fi

tap() {	# tap OK|FAIL DESC [OUTPUT]
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && printf '%s\n' "$3" | head -n 40 | sed 's/^/# /'
	fi
}

kver() { basename "$1" | sed 's/^linux-headers-//'; }

# Driver sources checked one by one (Makefile and Kbuild included).
driver_files() {
	(cd "$top/driver" && ls Kbuild Makefile ./*.c ./*.h | sed 's|^\./||')
}

# Justified per-file exceptions, as checkpatch --ignore lists. The codec's
# header maps the kernel's u8..s64 onto <stdint.h> for its userspace users:
# those typedefs are the point, not a style slip.
ignore_for() {
	case $1 in
	gaitmat_proto.h) echo "--ignore PREFER_KERNEL_TYPES" ;;
	esac
}

check_build() {
	local k out
	# A build of its own from scratch, so that every warning shows again.
	local cbuild=$build/kernel-check
	rm -rf "$cbuild"
	for k in $missing; do
		tap FAIL "headers for $k installed (scripts/install-deps.sh)"
	done
	for k in $kdirs; do
		[ -d "$k" ] || { tap FAIL "headers $k present"; continue; }
		out=$(make --no-print-directory -C "$top/driver" BUILD="$cbuild" \
			KDIRS="$k" V=1 all 2>&1)
		if [ $? -ne 0 ]; then
			tap FAIL "modules build for $(kver "$k")" "$out"
		elif grep -E 'warning:|error:' <<<"$out" >/dev/null; then
			tap FAIL "modules build for $(kver "$k") without warnings" \
				"$(grep -E -A3 'warning:|error:' <<<"$out")"
		else
			local ko
			ko=$(ls "$cbuild/driver/$(kver "$k")"/*.ko 2>/dev/null | wc -l)
			if [ "$ko" -eq 3 ] && [ -s "$cbuild/driver/$(kver "$k")/load-order" ]; then
				tap OK "modules build for $(kver "$k") without warnings ($ko modules)"
			else
				tap FAIL "modules and load-order for $(kver "$k")" "$(ls -l "$cbuild/driver/$(kver "$k")")"
			fi
		fi
	done
	rm -rf "$cbuild"
}

check_checkpatch() {
	local src cp f out rc
	src=$("$top/tests/kernel/ksrc.sh") || { tap FAIL "extract checkpatch"; return; }
	# CHECKPATCH: another checkpatch.pl (tests/infra's test of this check).
	cp=${CHECKPATCH:-$src/scripts/checkpatch.pl}
	for f in $(driver_files); do
		# shellcheck disable=SC2046 # the ignore list is words
		out=$(cd "$top/driver" && perl "$cp" --no-tree --strict --terse \
			--show-types $(ignore_for "$f") -f "$f" 2>&1)
		rc=$?
		# Its exit status counts as much as its reports: it also fails
		# without printing any (a perl error, a file it cannot read).
		if [ $rc -ne 0 ] || grep -qE ': (ERROR|WARNING|CHECK):' <<<"$out"; then
			tap FAIL "checkpatch --strict $f (exit $rc)" "$out"
		else
			tap OK "checkpatch --strict $f"
		fi
	done
}

check_sparse() {
	local k out f section
	k=$(echo "$kdirs" | awk '{print $1}')
	[ -n "$k" ] || { tap FAIL "headers for sparse installed"; return; }
	command -v sparse >/dev/null || { tap FAIL "sparse installed"; return; }
	make --no-print-directory -C "$top/driver" KDIRS="$k" all >/dev/null 2>&1 ||
		{ tap FAIL "modules build for sparse"; return; }
	out=$(make --no-print-directory -C "$k" M="$build/driver/$(kver "$k")" \
		C=2 modules 2>&1 | grep -v 'Skipping BTF')
	for f in $(cd "$top/driver" && ls ./*.c | sed 's|^\./||'); do
		# Kbuild prints "CHECK file" before sparse's reports on it.
		section=$(awk -v f="/$f" '
			/^  CHECK / { on = (substr($2, length($2) - length(f) + 1) == f); next }
			/^  [A-Z]+ / { on = 0 }
			on' <<<"$out")
		if ! grep -q "CHECK .*/$f\$" <<<"$out"; then
			tap FAIL "sparse $f (not checked)" "$out"
		elif [ -n "$section" ]; then
			tap FAIL "sparse $f" "$section"
		else
			tap OK "sparse $f ($(kver "$k"))"
		fi
	done
}

check_selftests() {
	local out rc p bin progs
	# Every program tests/selftests/Makefile names, so a new one is covered.
	progs=$(sed -n 's/^PROGS := //p' "$top/tests/selftests/Makefile")
	[ -n "$progs" ] || { tap FAIL "selftests: no PROGS in tests/selftests/Makefile"; return; }
	# Built afresh each time: a binary left from an earlier build must not
	# pass for this one. make -k builds every program it can.
	for p in $progs; do
		rm -f "$build/tests/selftests/gaitmat/$p"
	done
	out=$(make --no-print-directory -k -C "$top/tests/selftests" 2>&1)
	rc=$?
	for p in $progs; do
		bin=$build/tests/selftests/gaitmat/$p
		if [ $rc -eq 0 ] && [ -x "$bin" ]; then
			tap OK "selftest $p builds (-Werror)"
		else
			tap FAIL "selftest $p builds (-Werror; make exited $rc)" "$out"
		fi
	done
}

case ${1:-} in
build) check_build ;;
checkpatch) check_checkpatch ;;
sparse) check_sparse ;;
selftests) check_selftests ;;
*) echo "usage: $0 build|checkpatch|sparse|selftests" >&2; exit 2 ;;
esac
echo "1..$n"
[ $failed -eq 0 ]
