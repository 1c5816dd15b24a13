# SPDX-License-Identifier: GPL-2.0
# In the lab guest (tests/bench/run-latency-bench): gaitcap capture of the
# emulated mat at its nominal rate, with --watermark 1 and with the default
# hold, each with and without gaitcap-latency attached, the order of each
# pair alternating, ROUNDS times. Prints one LATCPU line per capture (the
# capture's CPU time, all its threads, over a fixed window, from
# /proc/PID/task/*/schedstat, in ns) and, when the tool was attached,
# LATSTAGE lines with its percentiles.
# Arguments: SECONDS ROUNDS RATE.
SECS=${1:-10}
ROUNDS=${2:-3}
RATE=${3:-100}
D=/tmp/latbench
mkdir -p $D

# The emulator at the lowest priority: it stands in for the mat's UART
# interrupt, which on hardware does not compete with the capture for a
# CPU; in the 1-CPU guest at normal priority it does (path p99 3-6 ms).
# One per capture: frames sent while no capture reads (the tool loading)
# came to the next capture as a backlog, in bursts, and made rounds
# bimodal (docs/latency.md, "Overhead"). The lab's busybox has renice.
sim_start() {
	gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate "$RATE" \
		--duration $((SECS + 40)) --seed 7 --quiet &
	SIM=$!
	renice 19 -p $SIM >/dev/null
	awk '{ print $19 }' /proc/$SIM/stat >$D/sim.nice
}

# cpu_ns PID: CPU time of all the process's threads (the engine loop, the
# compaction thread, io_uring workers), in ns, from schedstat; else from
# /proc/PID/stat's utime + stime (clock ticks, 10 ms here).
cpu_ns() {
	if [ -r /proc/$1/schedstat ]; then
		cat /proc/$1/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
	else
		awk '{ print ($14 + $15) * 10000000 }' /proc/$1/stat
	fi
}

# main_ns PID: the main thread's alone (what the bench counted before).
main_ns() {
	cut -d' ' -f1 /proc/$1/schedstat 2>/dev/null || echo 0
}

# capture FILE OPTS: a capture whose CPU is counted from 1 s after it
# started (the device found, the buffer on) for SECS seconds, then stopped.
# Echoes the CPU ns of that window, all threads and the main thread; the
# capture's exit status goes to $D/cap.rc (a command substitution cannot
# set a variable).
capture() {
	sim_start
	gaitcap capture -o $1 --subject LAB-01 --wait 15 --duration $((SECS + 30)) --rate $RATE $2 \
		--status 0 --quiet --control none >$D/cap.log 2>&1 &
	P=$!
	sleep 1
	c0=$(cpu_ns $P)
	m0=$(main_ns $P)
	sleep "$SECS"
	c1=$(cpu_ns $P)
	m1=$(main_ns $P)
	kill -INT $P
	wait $P
	echo $? >$D/cap.rc
	kill -TERM $SIM
	wait $SIM
	echo $((c1 - c0)) $((m1 - m0))
}
jstage() {	# FILE STAGE NAME
	sed -n "s/.*\"$2\":{\([^}]*\)}.*/\1/p" "$1" | sed -n "s/.*\"$3\":\([0-9]*\).*/\1/p" | head -n1
}

[ -r /proc/self/schedstat ] && echo "LATCLOCK schedstat" || echo "LATCLOCK ticks"
# A warm-up capture, not counted: the first one in a fresh guest pays for
# cold caches and page faults of everything it touches (x 4 CPU seen).
capture $D/warm.gcs "--watermark 1" >/dev/null
rm -f $D/warm.gcs
echo "LATSIM nice=$(cat $D/sim.nice)"
r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	# Alternate the order of each pair so drift does not favour one side.
	if [ $((r % 2)) = 1 ]; then order="off on"; else order="on off"; fi
	for wm in w1 dflt; do
		opt=""
		[ $wm = w1 ] && opt="--watermark 1"
		for tool in $order; do
			f=$D/$wm-$tool-$r.gcs
			if [ $tool = on ]; then
				# A fresh file: the last capture's banner would not wait for this one.
				rm -f $D/t.err
				gaitcap-latency -j >$D/t.json 2>$D/t.err &
				T=$!
				n=0
				while ! grep -q '^Tracing' $D/t.err && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
			fi
			set -- $(capture $f "$opt")
			cpu=$1 main=$2
			frames=$(gaitcap info $f | sed -n 's/.*iio_scan .* \([0-9]*\) records in .*/\1/p' | head -n1)
			echo "LATCPU mode=$wm tool=$tool round=$r cpu_ns=${cpu:-0} frames=${frames:-0} window_s=$SECS rc=$(cat $D/cap.rc) main_ns=${main:-0}"
			if [ $tool = on ]; then
				kill -INT $T
				wait $T
				for st in wire hold read reap commit path; do
					echo "LATSTAGE mode=$wm round=$r stage=$st count=$(jstage $D/t.json $st count)" \
						"p50=$(jstage $D/t.json $st p50_ns) p99=$(jstage $D/t.json $st p99_ns)" \
						"p999=$(jstage $D/t.json $st p99_9_ns) max=$(jstage $D/t.json $st max_ns)"
				done
			fi
			rm -f $f
		done
	done
done
echo "LATDONE"
