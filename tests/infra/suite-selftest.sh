#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/infra/suite-selftest.sh: scripts/suite and scripts/check-summary,
# the counting every other suite relies on, run on made-up suites in a copy
# of the scripts (with a docs/testing.md of its own) and on the real list of
# optional suites. Prints TAP.
set -u
. "$(dirname "$0")/lib.sh"

t=$scratch/tree
mkdir -p "$t/scripts" "$t/docs"
cp "$top/scripts/suite" "$top/scripts/check-summary" "$t/scripts/"
cat >"$t/docs/testing.md" <<'DOC'
# Testing
## Optional suites
| suite | why |
|---|---|
| `opt-*` | made up for this test |
## Something else
| `later-*` | not in the list: another section |
DOC

# run NAME [ENV...] -- CMD: scripts/suite NAME CMD in the copy; prints the
# result line without its timing.
run() {
	local name=$1 envs=()
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env -u CI "${envs[@]}" BUILD="$t/build" "$t/scripts/suite" "$name" "$@" >/dev/null
	sed 's/ ([0-9]* s)$//' "$t/build/results/$name"
}
# p LINE...: a made-up suite printing these lines.
printf '#!/bin/sh\nprintf "%%s\\n" "$@"\n' >"$scratch/p"
chmod +x "$scratch/p"
p=$scratch/p

same "TAP: ok, not ok and SKIP directives counted" \
	"$(run tap -- "$p" 'ok 1 - a' 'not ok 2 - b' 'ok 3 - c # SKIP no fixture' '  ok 9 - nested')" \
	"tap: 1 passed, 1 failed, 1 skipped"
same "cmocka's not-ok line with a SKIP directive is a skip" \
	"$(run cmocka -- "$p" 'ok 1 - a' 'not ok 2 # SKIP')" "cmocka: 1 passed, 0 failed, 1 skipped"
same "a RESULT line is taken as it is" \
	"$(run res -- "$p" 'ok 1 - a' 'RESULT: 7 passed, 2 failed, 3 skipped')" "res: 7 passed, 2 failed, 3 skipped"
same "a command that fails with no failing test fails once" \
	"$(run crash -- sh -c 'echo "ok 1 - a"; exit 3')" "crash: 1 passed, 1 failed, 0 skipped"
same "a suite that runs no test fails" "$(run empty -- true)" "empty: 0 passed, 1 failed, 0 skipped"
same "without CI a skipped test is a skip" \
	"$(run needs-x -- "$p" 'ok 1 - a' 'ok 2 - b # SKIP no /dev/x')" "needs-x: 1 passed, 0 failed, 1 skipped"
same "CI=true: a skipped test of a suite not listed as optional fails" \
	"$(run needs-x CI=true -- "$p" 'ok 1 - a' 'ok 2 - b # SKIP no /dev/x')" "needs-x: 1 passed, 1 failed, 0 skipped"
ok "CI=true: the log says why and names the skipped test" \
	grep -q 'ok 2 - b # SKIP no /dev/x' "$t/build/logs/needs-x.log"
same "CI=true: a skipped RESULT count fails too" \
	"$(run kunit-like CI=true -- "$p" 'RESULT: 5 passed, 0 failed, 2 skipped')" "kunit-like: 5 passed, 2 failed, 0 skipped"
same "CI=true: an optional suite (docs/testing.md) may skip" \
	"$(run opt-perf CI=true -- "$p" 'ok 1 - a' 'ok 2 - b # SKIP no perf')" "opt-perf: 1 passed, 0 failed, 1 skipped"
same "CI=true: only the section 'Optional suites' lists them" \
	"$(run later-x CI=true -- "$p" 'ok 1 - a # SKIP x')" "later-x: 0 passed, 1 failed, 0 skipped"
same "CI=false is not CI" \
	"$(run needs-y CI=false -- "$p" 'ok 1 - a # SKIP x')" "needs-y: 0 passed, 0 failed, 1 skipped"

# check-summary adds up build/results and fails on any failure.
summary() { BUILD=$1 "$t/scripts/check-summary" | tail -n1; echo "exit ${PIPESTATUS[0]}"; }
mkdir -p "$scratch/s1/results" "$scratch/s2/results" "$scratch/s3/results"
echo "a: 3 passed, 0 failed, 1 skipped (1 s)" >"$scratch/s1/results/a"
echo "b: 2 passed, 0 failed, 0 skipped (1 s)" >"$scratch/s1/results/b"
same "check-summary: totals, exit 0 when nothing failed" "$(summary "$scratch/s1")" \
	"check: 5 passed, 0 failed, 1 skipped
exit 0"
cp "$scratch/s1/results/"* "$scratch/s2/results/"
echo "c: 0 passed, 1 failed, 0 skipped (1 s)" >"$scratch/s2/results/c"
same "check-summary: exit 1 on one failure" "$(summary "$scratch/s2")" \
	"check: 5 passed, 1 failed, 1 skipped
exit 1"
same "check-summary: exit 1 when nothing ran" "$(summary "$scratch/s3")" \
	"check: 0 passed, 0 failed, 0 skipped
exit 1"

# The real list: short, and every entry says why.
rows=$(awk '/^## / { on = ($0 ~ /^## Optional suites/) } on && /^\| *`/' "$top/docs/testing.md")
ok "docs/testing.md has the section 'Optional suites'" grep -q '^## Optional suites' "$top/docs/testing.md"
ok "at most 5 optional suites" test "$(printf '%s' "$rows" | grep -c .)" -le 5
ok "each optional suite says why" \
	sh -c '! printf "%s\n" "$1" | grep -E "^\| *\`[^\`]+\` *\| *\|?$"' - "$rows"
done_tap
