#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-fuzzers.sh OUT SECONDS NAME...
#
# Runs each libFuzzer binary OUT/NAME for SECONDS over its seeds
# (OUT/seeds/NAME, read only) and its corpus (OUT/corpus/NAME, where new
# inputs are kept), and prints TAP: "ok N NAME" when it found nothing,
# "not ok N NAME" with the end of its log when it crashed, leaked, timed
# out or broke an invariant, and the crashing input (gzip | base64).
# Crashing inputs are also kept in OUT/artifacts/.
# Inputs that once broke a target are kept in tests/fuzz/regressions/NAME
# and run first, every time.
set -u
regress=$(cd "$(dirname "$0")" && pwd)/regressions
out=$1
secs=$2
shift 2

echo "1..$#"
n=0
for name in "$@"; do
	n=$((n + 1))
	bin=$out/$name
	if [ ! -x "$bin" ]; then
		echo "not ok $n $name # not built: $bin"
		continue
	fi
	mkdir -p "$out/corpus/$name" "$out/artifacts" "$out/logs"
	log=$out/logs/$name.log
	touch "$out/logs/$name.start"
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 \
		-artifact_prefix="$out/artifacts/$name-" \
		"$out/corpus/$name" "$out/seeds/$name" \
		$( [ -d "$regress/$name" ] && echo "$regress/$name") >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1)
	if [ $rc -eq 0 ]; then
		echo "ok $n $name # ${runs:-?} runs, $cov, ${secs} s"
	else
		echo "not ok $n $name # exit $rc, log $log"
		# What broke first, then the input itself (gzip, base64) so
		# that a run whose files are gone (CI) still hands it over,
		# then the end of the log.
		grep -m4 -E 'invariant broken|ERROR:|SUMMARY:|runtime error' \
			"$log" | sed 's/^/#   /'
		find "$out/artifacts" -name "$name-*" -size -65537c \
			-newer "$out/logs/$name.start" | while read -r a; do
			echo "#   input ${a##*/} (gzip | base64):"
			gzip -9nc "$a" | base64 -w 76 | sed 's/^/#   /'
		done
		tail -n 30 "$log" | sed 's/^/#   /'
	fi
done
