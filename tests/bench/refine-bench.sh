#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# refine + qc of long synthetic sessions, side by side in one run
# (docs/gait-parameters.md, "Speed and memory"):
# - time against `cat FILE > /dev/null` of the same file (the issue's
#   target, ratio < 3), and against readall, one read of every record the
#   way refine reads them, chunks checked and decompressed (what refine +
#   qc cost beyond reading the file), in wall time and in CPU time (user +
#   system, less disturbed by other work on a shared machine);
# - both from the page cache (warm) and with the file's pages evicted
#   before each of cat, readall and refine (cold: read from the disk);
# - peak memory of refine and of qc, each at a short and a long length:
#   total (VmHWM) and anonymous (RssAnon, sampled by peakrss). Flat: the
#   long run's peak within 10 % or 2 MiB of the short run's, whichever is
#   larger.
# - the floor, in the same run: refine writes a full copy of the kept
#   records (refined.gcs) that qc reads again, so `cp FILE DIR/x && cat
#   DIR/x > /dev/null` (write once, read again, no computation) and
#   readall, each as a ratio to `cat`: how close to `cat` any refine + qc
#   can come.
#   refine-bench.sh GAITCAP PEAKRSS READALL EVICT CACHEDIR [INS_MIN LONG_INS_MIN MAT_MIN LONG_MAT_MIN]
set -eu
G=$1
PEAK=$2
READALL=$3
EVICT=$4
CACHE=$5
INS_SHORT=${6:-5}
INS_LONG=${7:-30}
MAT_SHORT=${8:-2}
MAT_LONG=${9:-10}
mkdir -p "$CACHE"

# Made again when gaitcap changes: synth's output (its layout) may change with it.
KEY=$(sha256sum "$G" | cut -c1-12)

# A "free-living insole session": two insoles, the smallest mat synth allows.
session() {	# kind minutes -> path (made once per gaitcap binary, cached)
	f=$CACHE/$1-$2min-$KEY.gcs
	if [ ! -s "$f" ]; then
		rm -f "$CACHE/$1-$2min.gcs" "$CACHE/$1-$2min-"*.gcs "$f.tmp"
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
secs() { echo "$1 $2" | awk '{ printf "%.3f\n", $2 - $1 }'; }

# refine + qc of $1 under peakrss. Prints "seconds refine_hwm refine_anon
# qc_hwm qc_anon cpu_seconds" (KB).
run_pipeline() {
	out=$(mktemp -d)
	t0=$(now)
	if ! "$PEAK" "$out/m.refine" "$G" refine "$1" -o "$out/r" >/dev/null 2>"$out/log"; then
		cat "$out/log" >&2
		echo "refine failed on $1" >&2
		exit 1
	fi
	# qc's exit status says pass/warn/fail: only a crash (>= 3) is an error here.
	rc=0
	"$PEAK" "$out/m.qc" "$G" qc "$out/r" --json "$out/qc.json" \
		--report "$out/qc.html" >/dev/null || rc=$?
	t1=$(now)
	[ $rc -lt 3 ] || { echo "qc failed ($rc) on $1" >&2; exit 1; }
	set -- $(cat "$out/m.refine") $(cat "$out/m.qc")
	echo "$(secs "$t0" "$t1") $1 $2 $6 $7 $(echo "$5 ${10}" | awk '{ print $1 + $2 }')"
	rm -rf "$out"
}

run_cat() {
	t0=$(now); cat "$1" >/dev/null; t1=$(now)
	secs "$t0" "$t1"
}

# The floor: a copy written next to refine's output and read back.
# Prints "seconds cpu_seconds" (cp and cat, children of sh).
run_cpcat() {
	d=$(mktemp -d)
	m=$(mktemp)
	t0=$(now)
	"$PEAK" "$m" sh -c 'cp "$1" "$2/x" && cat "$2/x" >/dev/null' sh "$1" "$d"
	t1=$(now)
	echo "$(secs "$t0" "$t1") $(cut -d' ' -f5 "$m")"
	rm -rf "$d" "$m"
}

# Prints "seconds cpu_seconds".
run_read() {
	m=$(mktemp)
	t0=$(now); "$PEAK" "$m" "$READALL" "$1" >/dev/null; t1=$(now)
	echo "$(secs "$t0" "$t1") $(cut -d' ' -f5 "$m")"
	rm -f "$m"
}

verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v < lim) ? "met" : "NOT met" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b > 0.001 ? b : 0.001) }'; }
flat() {	# short long (KB)
	awk -v s="$1" -v l="$2" 'BEGIN {
		lim = s * 1.10; if (s + 2048 > lim) lim = s + 2048
		print (l <= lim) ? "flat: met" : "flat: NOT met" }'
}

mem_line() {	# kind tool what short_min long_min short_kb long_kb
	printf '%-6s %-6s %-9s %3d min %6d KB, %3d min %6d KB, ratio %.2f (%s)\n' \
		"$1" "$2" "$3" "$4" "$6" "$5" "$7" "$(ratio "$7" "$6")" "$(flat "$6" "$7")"
}

one() {	# kind short long
	fs=$(session "$1" "$2"); fl=$(session "$1" "$3")
	# Cold: each starts with none of the file's pages in the cache.
	"$EVICT" "$fl"; cc=$(run_cat "$fl")
	"$EVICT" "$fl"; cr=$(run_read "$fl" | cut -d' ' -f1)
	"$EVICT" "$fl"; cp=$(run_pipeline "$fl" | cut -d' ' -f1)
	cat "$fl" >/dev/null		# warm: all read from the page cache
	c=$(run_cat "$fl")
	fc=$(run_cpcat "$fl")
	set -- "$1" "$2" "$3" $(run_read "$fl") $(run_pipeline "$fl") $(run_pipeline "$fs")
	# readall: $4 s, $5 cpu s
	# long: $6 s, $7 refine hwm, $8 refine anon, $9 qc hwm, ${10} qc anon, ${11} cpu s
	# short: ${12} s, ${13} refine hwm, ${14} refine anon, ${15} qc hwm, ${16} qc anon
	r=$(ratio "$6" "$c")
	printf '%-6s %3d min, warm cache: refine+qc %7.3f s, cat %6.3f s, ratio %6.2f (< 3: %s)\n' \
		"$1" "$3" "$6" "$c" "$r" "$(verdict "$r" 3)"
	# The floor's rows, from the same warm run as the ratio above.
	printf '%-6s %3d min, warm floor: cp + cat of the copy %6.3f s (CPU %6.3f s), ratio %6.2f; readall %6.3f s (CPU %6.3f s), ratio %6.2f\n' \
		"$1" "$3" "${fc% *}" "${fc#* }" "$(ratio "${fc% *}" "$c")" "$4" "$5" "$(ratio "$4" "$c")"
	r=$(ratio "$cp" "$cc")
	printf '%-6s %3d min, cold cache: refine+qc %7.3f s, cat %6.3f s, ratio %6.2f (< 3: %s); readall %6.3f s\n' \
		"$1" "$3" "$cp" "$cc" "$r" "$(verdict "$r" 3)" "$cr"
	printf '%-6s %3d min: refine+qc %7.3f s, readall %6.3f s, ratio %6.2f; CPU %7.3f s against %6.3f s, ratio %6.2f\n' \
		"$1" "$3" "$6" "$4" "$(ratio "$6" "$4")" "${11}" "$5" "$(ratio "${11}" "$5")"
	mem_line "$1" refine "peak RSS" "$2" "$3" "${13}" "$7"
	mem_line "$1" refine "RssAnon" "$2" "$3" "${14}" "$8"
	mem_line "$1" qc "peak RSS" "$2" "$3" "${15}" "$9"
	mem_line "$1" qc "RssAnon" "$2" "$3" "${16}" "${10}"
}

one insole "$INS_SHORT" "$INS_LONG"
one mat "$MAT_SHORT" "$MAT_LONG"
