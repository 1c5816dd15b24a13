#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# refine + qc of long synthetic sessions against `cat FILE > /dev/null` of the
# same file, side by side in one run (docs/gait-parameters.md, "Speed and
# memory"): the time ratio (target < 3) and peak RSS at a short and a long
# length (target: ratio ~1, memory flat with the session's length).
#   refine-bench.sh GAITCAP CACHEDIR [INSOLE_MIN LONG_INSOLE_MIN MAT_MIN LONG_MAT_MIN]
set -eu
G=$1
CACHE=$2
INS_SHORT=${3:-5}
INS_LONG=${4:-30}
MAT_SHORT=${5:-2}
MAT_LONG=${6:-10}
mkdir -p "$CACHE"

# A "free-living insole session": two insoles, the smallest mat synth allows.
session() {	# kind minutes -> path (made once, cached)
	f=$CACHE/$1-$2min.gcs
	if [ ! -s "$f" ]; then
		rm -f "$f" "$f.tmp"
		if [ "$1" = insole ]; then
			"$G" synth --quiet --no-truth --seconds $(($2 * 60)) \
				--tiles 1 --rows 4 --cols 4 "$f.tmp" >&2
		else
			"$G" synth --quiet --no-truth --seconds $(($2 * 60)) "$f.tmp" >&2
		fi
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}

now() { date +%s.%N; }

# refine + qc of $1: prints "seconds peak_rss_kb" (the larger of the two RSS).
run_pipeline() {
	out=$(mktemp -d)
	t0=$(now)
	/usr/bin/time -f %M -o "$out/rss.refine" "$G" refine "$1" -o "$out/r" >/dev/null 2>"$out/log"
	# qc's exit status says pass/warn/fail: only a crash (>= 3) is an error here.
	rc=0
	/usr/bin/time -f %M -o "$out/rss.qc" "$G" qc "$out/r" --json "$out/qc.json" \
		--report "$out/qc.html" >/dev/null || rc=$?
	t1=$(now)
	[ $rc -lt 3 ] || { echo "qc failed ($rc) on $1" >&2; exit 1; }
	a=$(tail -1 "$out/rss.refine"); b=$(tail -1 "$out/rss.qc")
	echo "$t0 $t1" | awk -v a="$a" -v b="$b" '{ printf "%.3f %d\n", $2 - $1, (a > b ? a : b) }'
	rm -rf "$out"
}

run_cat() {
	t0=$(now); cat "$1" >/dev/null; t1=$(now)
	echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }'
}

verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v < lim) ? "met" : "NOT met" }'; }

one() {	# kind short long
	fs=$(session "$1" "$2"); fl=$(session "$1" "$3")
	cat "$fl" >/dev/null		# both read from the page cache
	c=$(run_cat "$fl")
	set -- "$1" "$2" "$3" $(run_pipeline "$fl") $(run_pipeline "$fs")
	# $4 long seconds, $5 long rss, $6 short seconds, $7 short rss
	r=$(awk -v a="$4" -v b="$c" 'BEGIN { printf "%.2f", a / (b > 0.001 ? b : 0.001) }')
	m=$(awk -v a="$5" -v b="$7" 'BEGIN { printf "%.2f", a / b }')
	printf '%-6s %3d min: refine+qc %7.3f s, cat %6.3f s, ratio %6.2f (< 3: %s)\n' \
		"$1" "$3" "$4" "$c" "$r" "$(verdict "$r" 3)"
	printf '%-6s peak RSS %d min %d KB, %d min %d KB, ratio %.2f (<= 1.2: %s)\n' \
		"$1" "$2" "$7" "$3" "$5" "$m" "$(verdict "$m" 1.2001)"
}

one insole "$INS_SHORT" "$INS_LONG"
one mat "$MAT_SHORT" "$MAT_LONG"
