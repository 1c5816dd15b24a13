# SPDX-License-Identifier: GPL-2.0
# gaitcap-latency on the whole mat chain (docs/latency.md): the driver's
# tracepoints (raw_tp, else tp), io_uring's completion tracepoint and the
# capture's USDT probes, while gaitcap captures the emulated mat with one
# wakeup per scan (--watermark 1) and with the default hold. Every frame of
# the session file must be counted in every stage, and seen at the driver;
# a filter on another mat link must keep the userspace stages only; with
# --rt-priority only the loop thread runs at SCHED_FIFO.
# Prints TAP, and the percentiles as comments.
. /lab/lib.sh

command -v gaitcap-latency >/dev/null || lab_skip "gaitcap-latency not built"
command -v gaitmat-sim >/dev/null || lab_skip "gaitmat-sim not built"
[ -e /dev/gaitmat-virt ] || lab_skip "no /dev/gaitmat-virt (gaitmat_virt not loaded)"

D=/tmp/lat
mkdir -p $D

# jfield FILE STREAM [STAGE] NAME: a number out of the tool's JSON line.
jfield() {
	line=$(sed 's/},{"stream"/}\n{"stream"/g' "$1" | grep "\"stream\":$2," | head -n1)
	if [ $# = 4 ]; then
		line=$(printf '%s' "$line" | sed -n "s/.*\"$3\":{\([^}]*\)}.*/\1/p")
		name=$4
	else
		name=$3
	fi
	printf '%s' "$line" | sed -n "s/.*\"$name\":\([0-9]*\).*/\1/p" | head -n1
}
records() {
	gaitcap info "$1" | sed -n 's/.*iio_scan .* \([0-9]*\) records in .*/\1/p' | head -n1
}
wait_banner() {
	n=0
	while ! grep -q '^Tracing gaitcap' "$1" 2>/dev/null; do
		[ $n -ge 200 ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
}
all_stages() {	# FILE FRAMES
	for st in wire hold read reap commit path; do
		c=$(jfield "$1" 0 $st count)
		[ "$c" = "$2" ] || { echo "stage $st: count ${c:-none}, want $2"; return 1; }
	done
}

gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 100 --duration 300 --seed 5 --quiet &
SIM=$!

for mode in w1 dflt; do
	wm=""
	[ $mode = w1 ] && wm="--watermark 1"
	gaitcap-latency -j >$D/$mode.json 2>$D/$mode.err &
	T=$!
	gaitcap-latency -j -d 999 >$D/$mode-nolink.json 2>$D/$mode-nolink.err &
	T2=$!
	lab_check "$mode: gaitcap-latency attaches" wait_banner $D/$mode.err
	wait_banner $D/$mode-nolink.err
	gaitcap capture -o $D/$mode.gcs --subject LAB-01 --wait 15 --duration 4 $wm \
		--status 0 --quiet --control none >$D/$mode.log 2>&1
	rc=$?
	kill -INT $T $T2
	wait $T $T2
	lab_check "$mode: the capture exits 0" test $rc = 0
	r=$(records $D/$mode.gcs)
	f=$(jfield $D/$mode.json 0 frames)
	lab_check "$mode: frames committed as the file says (${f:-?} of ${r:-?})" \
		test -n "$r" -a "$r" -gt 100 -a "$f" = "$r"
	lab_check "$mode: every frame seen at the driver" \
		test "$(jfield $D/$mode.json 0 driver_frames)" = "$r"
	lab_check "$mode: the driver through raw_tp or tp, io_uring through a tracepoint" \
		grep -Eq '"frame_pushed":"(raw_tp|tp)".*"io_uring_complete":"(tp_btf|raw_tp|tp)"' $D/$mode.json
	lab_check "$mode: wire, hold, read, reap, commit and path each count every frame" \
		all_stages $D/$mode.json "$r"
	lab_check "$mode: -d 999 (no such link): no driver stage, every frame still counted" \
		sh -c "[ \"\$(grep -c '\"wire\":' $D/$mode-nolink.json)\" = 0 ] &&
			[ \"$(jfield $D/$mode-nolink.json 0 frames)\" = '$r' ] &&
			[ \"$(jfield $D/$mode-nolink.json 0 commit count)\" = '$r' ]"
	for st in wire hold read reap commit path; do
		echo "# $mode $st p50 $(jfield $D/$mode.json 0 $st p50_ns) p99 $(jfield $D/$mode.json 0 $st p99_ns)" \
			"p99.9 $(jfield $D/$mode.json 0 $st p99_9_ns) max $(jfield $D/$mode.json 0 $st max_ns) ns"
	done
done
lab_check "the default hold batches: its hold p50 is longer than with --watermark 1" \
	test "$(jfield $D/dflt.json 0 hold p50_ns)" -gt "$(jfield $D/w1.json 0 hold p50_ns)"
# --watermark 1 is one wakeup per scan with no hold in gaitcap: the reader
# is woken by the scan itself, not a scan period later (5 ms at 100 Hz).
lab_check "--watermark 1: no hold, hold p50 under 1 ms ($(jfield $D/w1.json 0 hold p50_ns) ns)" \
	test "$(jfield $D/w1.json 0 hold p50_ns)" -lt 1000000

# --rt-priority: the loop thread at SCHED_FIFO, every thread it started
# (compaction, io_uring's workers) at normal priority (reset on fork).
# policies PID: "TID policy rt_priority" per thread (stat fields 41, 40).
policies() {
	for t in /proc/$1/task/*; do
		echo "${t##*/} $(awk '{ print $41, $40 }' $t/stat)"
	done
}
gaitcap capture -o $D/rt.gcs --subject LAB-01 --wait 15 --duration 4 --watermark 1 --rt-priority 10 \
	--status 0 --quiet --control none >$D/rt.log 2>&1 &
P=$!
sleep 2
policies $P >$D/rt.pol
wait $P
rc=$?
lab_check "--rt-priority 10: the capture exits 0 ($rc)" test $rc = 0
lab_check "--rt-priority 10: the loop thread at SCHED_FIFO 10" grep -qx "$P 1 10" $D/rt.pol
lab_check "--rt-priority 10: its other threads at normal priority ($(grep -vc "^$P " $D/rt.pol) seen)" \
	sh -c "grep -v '^$P ' $D/rt.pol | grep -q . && ! grep -v '^$P ' $D/rt.pol | grep -qv ' 0 0\$'"
lab_check "--rt-priority 10: frames recorded" test "$(records $D/rt.gcs)" -gt 100
cat $D/rt.pol | sed 's/^/# thread policy priority: /'

kill -TERM $SIM
wait $SIM
lab_done
