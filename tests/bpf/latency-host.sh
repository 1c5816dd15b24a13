#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# gaitcap-latency on the host (no IIO here): a capture reading two fifos of
# fixed-size records (`--mat none --source fd:FIFO,record=16,seq=0,ts=8`),
# each fed by latency-feed at 200 Hz, is started first and waits; the tool
# is attached to the running process (-p), then the records flow. Every
# frame committed must be counted, per stream, in every userspace stage,
# and the filters must keep what they say. Prints TAP.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD:-$top/build}/bin
D=$(mktemp -d /tmp/latency-host.XXXXXX)
n=0
failed=0
pids=()

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	exec 3>&- 4>&- 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip_all "needs root (BPF, uprobes)"
for f in gaitcap gaitcap-latency latency-feed; do
	[ -x "$bin/$f" ] || skip_all "$bin/$f not built"
done

# A JSON value out of the tool's one-line output: field NAME of stream S
# (or of stage T of stream S); empty when absent.
stream_json() {
	sed 's/},{"stream"/}\n{"stream"/g' "$1" | grep "^.*\"stream\":$2," | head -n1
}
jfield() {	# FILE STREAM [STAGE] NAME
	local line
	line=$(stream_json "$1" "$2")
	[ $# = 4 ] && line=$(sed -n "s/.*\"$3\":{\([^}]*\)}.*/\1/p" <<<"$line")
	sed -n "s/.*\"${!#}\":\([0-9]*\).*/\1/p" <<<"$line" | head -n1
}
records() {	# FILE STREAM: records of that stream per gaitcap info
	"$bin/gaitcap" info "$1" |
		sed -n "s/^ *$2 generic .* \([0-9]*\) records in .*/\1/p"
}
wait_line() {	# FILE PATTERN TENTHS
	local i
	for ((i = 0; i < $3; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

echo "1..14"
mkfifo "$D/a" "$D/b"
# Hold both fifos open for writing, so the capture waits on empty pipes
# (no end of file) until the feeders are done and these close.
exec 3<>"$D/a" 4<>"$D/b"
"$bin/gaitcap" capture -o "$D/s.gcs" --subject LAB-01 --mat none \
	--source "fd:$D/a,record=16,seq=0,ts=8,name=left" \
	--source "fd:$D/b,record=16,seq=0,ts=8,name=right" \
	--control none --no-keys --status 0 --quiet --duration 60 \
	>"$D/cap.log" 2>&1 3>&- 4>&- &
cap=$!
pids+=("$cap")
sleep 1
check "the capture is running and waiting" kill -0 "$cap"

"$bin/gaitcap-latency" -j -p "$cap" >"$D/all.json" 2>"$D/all.err" 3>&- 4>&- &
t_all=$!
pids+=("$t_all")
"$bin/gaitcap-latency" -j -p "$cap" -s 1 >"$D/s1.json" 2>"$D/s1.err" 3>&- 4>&- &
t_s1=$!
pids+=("$t_s1")
"$bin/gaitcap-latency" -S -p "$cap" -d 7 >"$D/text.out" 2>"$D/text.err" 3>&- 4>&- &
t_txt=$!
pids+=("$t_txt")
check "gaitcap-latency attaches to the running capture" \
	wait_line "$D/all.err" "^Tracing gaitcap" 150
wait_line "$D/s1.err" "^Tracing gaitcap" 150
wait_line "$D/text.out" "^Tracing gaitcap" 150

"$bin/latency-feed" 600 200 >&3 4>&- &
f1=$!
"$bin/latency-feed" 400 200 >&4 3>&- &
f2=$!
wait $f1 $f2
exec 3>&- 4>&-
wait "$cap"
check "the capture ends at the fifos' end and exits 0" test $? = 0
kill -INT "$t_all" "$t_s1" "$t_txt"
wait "$t_all" "$t_s1" "$t_txt"

r0=$(records "$D/s.gcs" 0)
r1=$(records "$D/s.gcs" 1)
check "the session holds every record (600 + 400, got ${r0:-?} + ${r1:-?})" \
	test "${r0:-0}" = 600 -a "${r1:-0}" = 400
check "the io_uring hook is attached (tp_btf or raw_tp on the host kernel)" \
	grep -Eq '"io_uring_complete":"(tp_btf|raw_tp|tp)"' "$D/all.json"
for s in 0 1; do
	r=$([ $s = 0 ] && echo "$r0" || echo "$r1")
	f=$(jfield "$D/all.json" $s frames)
	check "stream $s: frames committed as the file says ($f of $r)" test "$f" = "$r"
	ok_all=1
	for st in read reap commit; do
		c=$(jfield "$D/all.json" $s $st count)
		[ "$c" = "$r" ] || { ok_all=0; echo "# stream $s stage $st: count ${c:-none}, want $r"; }
	done
	check "stream $s: read, reap and commit each count every frame" test $ok_all = 1
done
check "no driver stages without the driver (wire, hold, path absent)" \
	sh -c "! grep -Eq '\"(wire|hold|path)\":' '$D/all.json'"
p99=$(jfield "$D/all.json" 0 commit p99_ns)
mx=$(jfield "$D/all.json" 0 commit max_ns)
check "percentiles are ordered and real (commit p99 ${p99:-?} ns <= max ${mx:-?} ns)" \
	test -n "$p99" -a "${p99:-0}" -gt 0 -a "${p99:-0}" -le "${mx:-0}"
check "--stream 1 keeps stream 1 only, every frame of it" \
	sh -c "[ \"$(jfield "$D/s1.json" 1 frames)\" = '$r1' ] && ! grep -q '\"stream\":0,' '$D/s1.json'"
check "--device 7 (no such mat link) leaves the userspace stages alone" \
	grep -Eq '^  commit .* +600 ' "$D/text.out"
check "the text output has percentile columns" \
	grep -Eq '^  stage +count +p50 +p99 +p99\.9 +max' "$D/text.out"
[ $failed = 0 ] || { echo "# tool output:"; sed 's/^/# /' "$D/all.json" "$D/all.err" "$D/text.out"; }
exit $failed
