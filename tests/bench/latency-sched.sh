# SPDX-License-Identifier: GPL-2.0
# In the lab guest (tests/bench/run-latency-bench --sched): where the mat
# chain's p99 goes. Captures of the emulated mat (nice 19, as in
# latency-bench.sh) with --watermark 1, each MODE in turn, ROUNDS times, the
# order rotating; every capture with gaitcap-latency attached (so every side
# pays the same probes) and with tracefs recording, for SECS seconds, the
# wakeups of the capture's loop thread and every context switch. Prints a
# LATSTAGE line per stage (as latency-bench.sh) and a LATSCHED line per
# capture: the loop thread's wakeup -> on-CPU delays (p50, p99, max, how
# many over 1 ms) and, for those over 1 ms, what the CPU did meanwhile
# (idle, the emulator, kworkers, others) and who woke the thread; how often
# it was preempted and the longest wait to get the CPU back.
# Arguments: SECONDS ROUNDS RATE MODES (w1: --watermark 1; w1rt: and
# --rt-priority 50) SIMNICE (the emulator's nice: 19, or 0 to play other
# work competing with the capture for the CPU).
SECS=${1:-8}
ROUNDS=${2:-3}
RATE=${3:-100}
MODES=${4:-w1 w1rt}
SIMNICE=${5:-19}
D=/tmp/latsched
T=/sys/kernel/tracing
mkdir -p $D
[ -w $T/trace ] || { echo "LATSCHED no tracefs"; echo "LATDONE"; exit 0; }

gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate "$RATE" --duration 3600 --seed 7 --quiet &
SIM=$!
renice "$SIMNICE" -p $SIM >/dev/null
echo "LATSIM nice=$(awk '{ print $19 }' /proc/$SIM/stat)"
echo "LATCLOCK schedstat"
echo "LATNCPU $(grep -c ^processor /proc/cpuinfo)"

jstage() {	# FILE STAGE NAME
	sed -n "s/.*\"$2\":{\([^}]*\)}.*/\1/p" "$1" | sed -n "s/.*\"$3\":\([0-9]*\).*/\1/p" | head -n1
}

# sched_report PID MODE ROUND: the loop thread's delays out of the trace.
sched_report() {
	awk -v pid="$1" -v mode="$2" -v round="$3" '
	function ts(   i) { i = match($0, / [0-9]+\.[0-9]+: /); return substr($0, RSTART + 1, RLENGTH - 3) + 0 }
	function field(name,   i, s) { i = match($0, " " name "=[^ ]*"); s = substr($0, RSTART + length(name) + 2, RLENGTH - length(name) - 2); return s }
	/ sched_wakeup: / {
		if (field("pid") != pid || waiting) next
		waiting = 1; t0 = ts(); ran = ""
		# the waker: the task the line is about, "comm-pid"
		w = $1; sub(/-[0-9]+$/, "", w); waker = w
		next
	}
	/ sched_switch: / {
		# Woken while still on the CPU (about to sleep): no wait to count.
		if (field("prev_pid") == pid) {
			waiting = 0
			if (field("prev_state") ~ /^R/) { pre = 1; tp = ts() }
			next
		}
		if (!waiting && !pre) next
		np = field("next_pid"); nc = field("next_comm")
		if (np == pid) {
			if (pre && !waiting) {
				d = (ts() - tp) * 1e6; np_ = ++npre; y[np_] = d; pre = 0
				next
			}
			d = (ts() - t0) * 1e6; n++; x[n] = d
			if (d > 1000) {
				long++
				if (ran == "") ran = "no other task (the kernel, an interrupt, or the vCPU not running)"
				why[ran]++; by[waker]++
			}
			waiting = 0; pre = 0
			next
		}
		if (!waiting) next
		c = nc; sub(/\/[0-9]+$/, "", c); sub(/:[0-9].*$/, "", c)
		if (np == 0) c = "idle"
		if (index(" " ran " ", " " c " ") == 0) ran = ran (ran == "" ? "" : " ") c
	}
	END {
		for (i = 2; i <= n; i++) { t = x[i]; for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]; x[j + 1] = t }
		p50 = n ? x[int((n - 1) * 0.5) + 1] : 0; p99 = n ? x[int((n - 1) * 0.99) + 1] : 0
		for (i = 2; i <= npre; i++) { t = y[i]; for (j = i - 1; j >= 1 && y[j] > t; j--) y[j + 1] = y[j]; y[j + 1] = t }
		printf "LATSCHED mode=%s round=%d wakeups=%d p50_us=%.0f p99_us=%.0f max_us=%.0f over1ms=%d preempted=%d preempt_max_us=%.0f\n",
			mode, round, n, p50, p99, n ? x[n] : 0, long, npre, npre ? y[npre] : 0
		for (k in why) printf "LATSCHEDWHY mode=%s round=%d n=%d ran=%s\n", mode, round, why[k], k
		for (k in by) printf "LATSCHEDBY mode=%s round=%d n=%d waker=%s\n", mode, round, by[k], k
	}' "$D/trace.txt"
}

capture() {	# FILE OPTS MODE ROUND
	rm -f $D/t.err
	gaitcap-latency -j >$D/t.json 2>$D/t.err &
	TL=$!
	n=0
	while ! grep -q '^Tracing' $D/t.err && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
	gaitcap capture -o $1 --subject LAB-01 --wait 15 --duration $((SECS + 30)) --rate $RATE $2 \
		--status 0 --quiet --control none >$D/cap.log 2>&1 &
	P=$!
	sleep 1
	echo 0 >$T/tracing_on
	echo >$T/trace
	echo 4096 >$T/buffer_size_kb
	echo "pid == $P" >$T/events/sched/sched_wakeup/filter
	echo 1 >$T/events/sched/sched_wakeup/enable
	echo 1 >$T/events/sched/sched_switch/enable
	echo 1 >$T/tracing_on
	sleep "$SECS"
	echo 0 >$T/tracing_on
	echo 0 >$T/events/sched/sched_wakeup/enable
	echo 0 >$T/events/sched/sched_switch/enable
	echo 0 >$T/events/sched/sched_wakeup/filter
	cat $T/trace >$D/trace.txt
	echo "LATPOLICY mode=$3 round=$4 $(awk '{ print "policy=" $41 " rt_priority=" $40 }' /proc/$P/stat)"
	kill -INT $P
	wait $P
	rc=$?
	kill -INT $TL
	wait $TL
	echo "LATCAP mode=$3 round=$4 rc=$rc"
	sched_report $P $3 $4
	for st in wire hold read reap commit path; do
		echo "LATSTAGE mode=$3 round=$4 stage=$st count=$(jstage $D/t.json $st count)" \
			"p50=$(jstage $D/t.json $st p50_ns) p99=$(jstage $D/t.json $st p99_ns)" \
			"p999=$(jstage $D/t.json $st p99_9_ns) max=$(jstage $D/t.json $st max_ns)"
	done
	rm -f $1
}

# Warm-up, not counted (cold caches in a fresh guest).
gaitcap capture -o $D/warm.gcs --subject LAB-01 --wait 15 --duration 3 --rate $RATE --watermark 1 \
	--status 0 --quiet --control none >/dev/null 2>&1
rm -f $D/warm.gcs
r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	# Rotate the order so that drift of the host's load favours no mode.
	set -- $MODES
	k=$(((r - 1) % $#))
	while [ $k -gt 0 ]; do first=$1; shift; set -- "$@" "$first"; k=$((k - 1)); done
	for m in "$@"; do
		case $m in
		w1) opt="--watermark 1" ;;
		w1rt) opt="--watermark 1 --rt-priority 50" ;;
		*) opt="" ;;
		esac
		capture $D/$m-$r.gcs "$opt" $m $r
	done
done
kill -TERM $SIM
wait $SIM
echo "LATDONE"
