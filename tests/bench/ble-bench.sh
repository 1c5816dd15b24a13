# SPDX-License-Identifier: GPL-2.0
# In the lab guest (tests/bench/run-ble-bench, lab --btvirt 2): for each
# notification period, ROUNDS times, gaitcap capture and then the plain
# reader (gaitcap-ble-baseline) read the same peripheral
# (gaitcap-test-insole on hci1) from hci0. Each reader's CPU (all its
# threads) and the notifications sent are sampled over a window of
# SECONDS once the stream runs; afterwards what reached the reader's file
# is compared with what the peripheral says it sent. One BLE line per
# run; the host (run-ble-bench --analyze) makes the tables.
# Arguments: SECONDS ROUNDS PERIODS_US... With STALL=S set, each reader is
# stopped (SIGSTOP) for S seconds in its window: the bench must see loss.
# With PROFILE=HZ, one more run per reader at HZ under perf record (not
# measured: PROF lines, perf's report by dso and symbol).
SECS=${1:-5}
ROUNDS=${2:-3}
shift 2
PERIODS=${*:-10000 5000 2000 1000 500}
WARM=1
STALL=${STALL:-0}
PROFILE=${PROFILE:-0}
PROF_ON=0
D=/tmp/bleb
mkdir -p $D

bt() {
	btmgmt "$@" </dev/console
}
addr() {
	bt -i "$1" info | sed -n 's/.*addr \([0-9A-F:]*\) .*/\1/p' | head -1
}
uptime_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# Each reader runs in a cgroup of its own when the guest has cgroup v2:
# cpu.stat counts every thread it ever had (io_uring workers included) in
# us. Without one, the run time of its living threads (schedstat, ns).
CG=
if [ -f /sys/fs/cgroup/cgroup.procs ] ||
	mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null; then
	CG=/sys/fs/cgroup
fi
echo "BLE accounting $([ -n "$CG" ] && echo cgroup || echo schedstat)"

in_cgroup() {	# NAME CMD...
	name=$1
	shift
	if [ -n "$CG" ]; then
		rmdir "$CG/bleb-$name" 2>/dev/null
		mkdir -p "$CG/bleb-$name"
		echo 0 >"$CG/bleb-$name/cgroup.procs"
	fi
	exec "$@"
}
cpu_us() {	# NAME PID
	if [ -n "$CG" ] && [ -f "$CG/bleb-$1/cpu.stat" ]; then
		awk '$1 == "usage_usec" { print $2 }' "$CG/bleb-$1/cpu.stat"
	else
		cat /proc/"$2"/task/*/schedstat 2>/dev/null |
			awk '{ s += $1 } END { printf "%d\n", s / 1000 }'
	fi
}
# "IDLE TOTAL" jiffies of the guest's CPUs
idle() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat
}
busy_pct() {	# "IDLE0 TOTAL0" "IDLE1 TOTAL1"
	echo "$1 $2" | awk '{ d = $4 - $2; print (d > 0 ? int(100 - 100 * ($3 - $1) / d) : 0) }'
}
sent() {
	grep -c '^sent' "$1" 2>/dev/null || echo 0
}
# wait_for FILE PATTERN TENTHS: 0 once FILE has a line matching PATTERN
wait_for() {
	n=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		[ $n -ge "$3" ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
	return 0
}

bt -i 0 power on >/dev/null
bt -i 1 power on >/dev/null
bt -i 1 connectable on >/dev/null
bt -i 1 advertising on >/dev/null
A0=$(addr 0)
A1=$(addr 1)
echo "BLE setup central=$A0 peripheral=$A1 seconds=$SECS warm=$WARM rounds=$ROUNDS periods_us=$PERIODS stall=$STALL"

# run READER PERIOD_US ROUND
run() {
	reader=$1 p=$2 r=$3
	rate=$((1000000 / p))
	count=$(((WARM + SECS + 1) * rate))
	log=$D/sim.log
	rm -f $D/out.gcs $D/out.bin $log
	gaitcap-test-insole serve --adapter "$A1" --side left --count $count \
		--period-us "$p" --max-s $((WARM + SECS + 61)) --linger-s 1 \
		--log $log &
	S=$!
	wait_for $log '^listening' 100
	if [ "$reader" = gaitcap ]; then
		(in_cgroup $reader gaitcap capture -o $D/out.gcs --subject LAB-01 \
			--mat none --status 0 --quiet --control none \
			--adapter "$A0" --insole "left=$A1" --insole-wait 30 \
			--duration $((WARM + SECS + 90)) >$D/reader.log 2>&1) &
	else
		(in_cgroup $reader gaitcap-ble-baseline recv --adapter "$A0" \
			--peer "$A1" -o $D/out.bin >$D/reader.log 2>&1) &
	fi
	R=$!
	ok=1
	wait_for $log '^sent' 400 || ok=0
	sleep $WARM
	c0=$(cpu_us $reader $R) s0=$(sent $log) t0=$(uptime_ms) i0=$(idle)
	if [ "$STALL" != 0 ]; then
		kill -STOP $R
		sleep "$STALL"
		kill -CONT $R
	fi
	if [ "$PROF_ON" = 1 ]; then
		perf record -q -F 999 -g -p "$R" -o $D/perf.data -- \
			sleep "$SECS" >/dev/null 2>&1 || echo "PROF $reader: perf record failed"
	else
		sleep "$SECS"
	fi
	c1=$(cpu_us $reader $R) s1=$(sent $log) t1=$(uptime_ms) i1=$(idle)
	# Every notification out, then until the guest is quiet: the last ones
	# can still be on their way through btvirt when the host is loaded.
	wait_for $log '^done' $(((SECS + 60) * 10)) || ok=0
	wait $S
	n=0
	while [ $n -lt 20 ]; do
		q0=$(idle)
		sleep 0.5
		[ "$(busy_pct "$q0" "$(idle)")" -lt 30 ] && break
		n=$((n + 1))
	done
	if [ "$reader" = gaitcap ]; then
		kill -INT $R 2>/dev/null
	else
		kill -TERM $R 2>/dev/null
	fi
	wait $R
	rc=$?
	total=$(sent $log)
	if [ "$reader" = gaitcap ]; then
		res=$(gaitcap-test-insole check $D/out.gcs --side left --log $log)
		got=$(echo "$res" | sed -n 's/.* records \([0-9]*\),.*/\1/p')
		miss=$(echo "$res" | sed -n 's/.* missing \([0-9]*\) .*/\1/p')
		dup=$(echo "$res" | sed -n 's/.* duplicates \([0-9]*\),.*/\1/p')
		# the engine's receives over the whole run (its summary)
		reads=$(sed -n 's/.* \([0-9]*\) reads .*/\1/p' $D/reader.log | head -n 1)
	else
		res=$(gaitcap-ble-baseline count $D/out.bin)
		got=$(echo "$res" | sed -n 's/.*notifications=\([0-9]*\) .*/\1/p')
		uniq=$(echo "$res" | sed -n 's/.*unique=\([0-9]*\) .*/\1/p')
		miss=$((total - ${uniq:-0}))
		dup=$((${got:-0} - ${uniq:-0}))
		reads=${got:-0}
	fi
	tag=BLE
	[ "$PROF_ON" = 1 ] && tag=PROF
	echo "$tag run reader=$reader rate=$rate round=$r sent=$total delivered=${got:-0}" \
		"missing=${miss:-?} dup=${dup:-?} window_sent=$((s1 - s0))" \
		"cpu_us=$((c1 - c0)) wall_ms=$((t1 - t0)) busy_pct=$(busy_pct "$i0" "$i1")" \
		"reads=${reads:-?} win=$s0-$s1 rc=$rc ok=$ok"
	if [ "${miss:-1}" != 0 ]; then
		echo "# $res"
		sed 's/^/# /' $D/reader.log | tail -n 5
		# where the notifications went missing (win: the window's)
		[ "$reader" = gaitcap ] && gaitcap info $D/out.gcs 2>&1 |
			awk '/^gaps/ { n = 6 } n && n--' | sed 's/^/# /'
	fi
	if [ -f $D/perf.data ]; then
		perf report -i $D/perf.data --stdio --no-children --percent-limit 1 \
			--sort dso,sym -g none 2>/dev/null | grep '%' | head -n 25 |
			sed "s/^/PROF $reader $rate: /"
		rm -f $D/perf.data
	fi
	# Drop the link, so that the next reader starts from the same state,
	# and wait until it is gone: a connect that lands on a link still
	# being torn down once ended in a list_del BUG in hci_chan_del (6.1).
	bt -i 0 disconnect -t 1 "$A1" >/dev/null 2>&1
	n=0
	while bt -i 0 con 2>/dev/null | grep -q "$A1" && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ $n -lt 100 ] || echo "# the link to $A1 did not go within 10 s"
	[ -n "$CG" ] && rmdir "$CG/bleb-$reader" 2>/dev/null
}

for p in $PERIODS; do
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		r=$((r + 1))
		run gaitcap "$p" $r
		run baseline "$p" $r
	done
done
if [ "$PROFILE" != 0 ]; then
	PROF_ON=1
	if command -v perf >/dev/null; then
		run gaitcap $((1000000 / PROFILE)) 0
		run baseline $((1000000 / PROFILE)) 0
	else
		echo "PROF no perf in the guest (lab --tool /usr/bin/perf; Debian's linux-perf)"
	fi
fi
echo "BLEDONE"
