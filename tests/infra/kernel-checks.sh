#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/infra/kernel-checks.sh: the kernel-side suites fail when they should.
#   - KUnit expects every suite its test sources register (gaitmat_buf was
#     once left out of a hand-kept list) and a suite that did not report
#     fails the count;
#   - checkpatch's exit status counts, not only the reports it prints;
#   - a selftests build that fails is a failure, even with binaries of an
#     earlier build still there.
# Prints TAP.
set -u
. "$(dirname "$0")/lib.sh"
kunit=$top/tests/kunit
results=$kunit/kunit-results.py

# ---- KUnit: the expected suites come from the sources.
if grep -q -- '--list-suites' "$kunit/run-kunit.sh"; then
	listed=" $("$kunit/run-kunit.sh" --list-suites) "
else
	listed=""
fi
ok "run-kunit.sh --list-suites names the suites its sources register" test -n "${listed// /}"
# Every struct kunit_suite defined in tests/kunit, read here another way.
defined=$(awk '/struct kunit_suite [a-z_]+ = \{/ { on = 1 }
	on && /\.name *=/ { split($0, q, "\""); print q[2]; on = 0 }' "$kunit"/*.c | sort)
ok "the sources define suites (gaitmat_buf among them)" grep -qx gaitmat_buf <<<"$defined"
for s in $defined; do
	ok "KUnit expects suite $s" grep -q " $s " <<<"$listed"
done
cat >"$scratch/fake_kunit.c" <<'C'
static struct kunit_suite one_suite = {
	.name = "gmfake_one",
	.test_cases = one_cases,
};
/* static struct kunit_suite old = { .name = "gmfake_comment" }; */
static struct kunit_suite unused_suite = {
	.name = "gmfake_unused",
};
static struct kunit_suite two_suite = {
	.test_cases = two_cases,
	.name = "gmfake_two",
};
kunit_test_suites(&one_suite,
		  &two_suite);
C
same "only registered suites count, whatever the field order" \
	"$("$results" suites "$scratch/fake_kunit.c" 2>&1)" "gmfake_one gmfake_two"
printf 'static struct kunit_suite s = {\n\t.test_cases = c,\n};\nkunit_test_suite(s);\n' >"$scratch/noname_kunit.c"
ok "a registered suite without a name is an error" \
	sh -c '! "$1" suites "$2" 2>"$3" && grep -q "s has no name" "$3"' - \
	"$results" "$scratch/noname_kunit.c" "$scratch/noname.err"
cat >"$scratch/kunit.json" <<'J'
{"name": "main", "status": "PASS", "test_cases": [], "sub_groups": [
 {"name": "gaitmat_proto", "status": "PASS", "sub_groups": [],
  "test_cases": [{"name": "a", "status": "PASS"}, {"name": "b", "status": "SKIP"}]},
 {"name": "gaitmat_core", "status": "FAIL", "sub_groups": [],
  "test_cases": [{"name": "c", "status": "FAIL"}, {"name": "d", "status": "PASS"}]}]}
J
same "the count: leaf tests, a failed one fails" \
	"$("$results" count "$scratch/kunit.json" "" gaitmat_proto gaitmat_core 2>/dev/null)" "2 1 1"
same "a suite that did not report is one more failure" \
	"$("$results" count "$scratch/kunit.json" "" gaitmat_proto gaitmat_core gaitmat_buf 2>/dev/null)" "2 2 1"
same "... but not when a filter picks the tests" \
	"$("$results" count "$scratch/kunit.json" "gaitmat_proto.*" gaitmat_proto gaitmat_buf 2>/dev/null)" "2 1 1"

# ---- checkpatch and the selftests, in a scratch build sharing the extracted
# kernel source files (tests/kernel/ksrc.sh) with the real one.
kb=$scratch/build
mkdir -p "$kb" "$build/ksrc"
ln -s "$build/ksrc" "$kb/ksrc"
kcheck() { BUILD=$kb "$top/tests/kernel/check.sh" "$@"; }

printf '#!/usr/bin/perl\nexit 0;\n' >"$scratch/cp-quiet-ok"
printf '#!/usr/bin/perl\nprint STDERR "Undefined subroutine\\n";\nexit 2;\n' >"$scratch/cp-dies"
CHECKPATCH=$scratch/cp-quiet-ok kcheck checkpatch >"$scratch/cp1.tap" 2>&1
ok "checkpatch: a run that exits 0 with no report passes" \
	sh -c '[ "$(grep -c "^ok" "$1")" -gt 3 ] && ! grep -q "^not ok" "$1"' - "$scratch/cp1.tap"
CHECKPATCH=$scratch/cp-dies kcheck checkpatch >"$scratch/cp2.tap" 2>&1
rc=$?
ok "checkpatch: a run that exits 2 without any ERROR line fails every file" \
	sh -c '! grep -q "^ok" "$1" && [ "$(grep -c "^not ok" "$1")" -gt 3 ]' - "$scratch/cp2.tap"
ok "checkpatch: and the suite's command fails" test $rc -ne 0

# Binaries of an earlier build are there (newer than every source), then the
# compiler fails.
sd=$kb/tests/selftests/gaitmat
mkdir -p "$sd"
progs=$(sed -n 's/^PROGS := //p' "$top/tests/selftests/Makefile")
for p in $progs; do
	printf '#!/bin/sh\n' >"$sd/$p"
	chmod +x "$sd/$p"
done
CC=false kcheck selftests >"$scratch/st.tap" 2>&1
rc=$?
ok "selftests: a build that fails fails, old binaries or not" \
	sh -c '! grep -q "^ok" "$1" && [ "$(grep -c "^not ok" "$1")" = "$2" ]' - "$scratch/st.tap" "$(echo $progs | wc -w)"
ok "selftests: and the suite's command fails" test $rc -ne 0
done_tap
