#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/infra/vm-docs.sh: docs/lab.md's table "Every suite" lists exactly the
# VM suites of tests/vm/Makefile (make -C tests/vm list), so the two cannot
# drift apart. Prints TAP: one line per suite either side has.
set -u
. "$(dirname "$0")/lib.sh"

doc=$top/docs/lab.md
made=$(make --no-print-directory -s -C "$top/tests/vm" list | sort)
documented=$(awk '/^#+ / { on = ($0 ~ /^### Every suite/) }
	on && /^\| *`[^`]+`/ { split($0, f, "`"); print f[2] }' "$doc" | sort)
ok "tests/vm/Makefile lists suites" test -n "$made"
ok "docs/lab.md has the table 'Every suite'" test -n "$documented"
for s in $made; do
	ok "vm suite $s is in docs/lab.md" grep -qx -- "$s" <<<"$documented"
done
for s in $documented; do
	grep -qx -- "$s" <<<"$made" || ok "docs/lab.md's $s is a suite of tests/vm/Makefile" false
done
# The kernels cell of each row, as tests/vm/Makefile runs the suite.
kernels=$(make --no-print-directory -s -C "$top/tests/vm" list-kernels VM_ALL_KERNELS= | sort)
doc_kernels=$(awk '/^#+ / { on = ($0 ~ /^### Every suite/) }
	on && /^\| *`[^`]+`/ { split($0, f, "|"); split($0, n, "`"); gsub(/[ ,]+/, " ", f[3]);
		sub(/^ /, "", f[3]); sub(/ $/, "", f[3]); print n[2] ": " f[3] }' "$doc" | sort)
ok "every suite's kernels in docs/lab.md are those tests/vm/Makefile runs it on" \
	diff <(echo "$kernels") <(echo "$doc_kernels")
ok "no suite listed twice in docs/lab.md" test -z "$(uniq -d <<<"$documented")"
done_tap
