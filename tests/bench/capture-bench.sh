# SPDX-License-Identifier: GPL-2.0
# The capture benchmark, inside one guest (run-capture-bench prepends the
# settings SCALES, SECONDS, WARM, TILES, ROUNDS, PROFILE; the lab mounts an
# ext4 disk). For each speed-up S of the emulated mat (its highest rate,
# 200 Hz, times S, through the virtual transport), in ROUNDS rounds, four
# readers capture the same stream one after the other onto the same ext4
# disk, with the kernel buffer gaitcap chose (length and watermark; libiio
# sizes its own from the blocks it is asked for):
#   gaitcap     gaitcap capture --no-compact (io_uring into the mapped file),
#               without durability syncs in the window (like the others)
#   gaitcap-sync  the same with its shipped 1 s fdatasync()
#   readdev     iio_readdev > file (libiio's own buffer and read()s)
#   readloop    a plain blocking read()/write() loop (gaitmat-bench readloop)
# Each reader runs WARM seconds, then SECONDS more between two samples of its
# CPU time (/proc/PID/stat: every thread, io_uring workers included) and of
# the frames it has stored; start-up (libiio scanning sysfs, the session's
# preallocation) is outside the window. Afterwards every file is checked
# scan by scan against the walk (gaitmat-simcheck), which also counts the
# scans missing between its first and last. Output: "BENCH key=value" lines,
# then "BENCH measured"; with PROFILE=1 one more round at the last speed
# under perf (not measured: "PROF" lines), then "BENCH done".

RATE=200
D=${LAB_DISK_DIR:?the bench needs lab --disk}/bench
mkdir -p $D

mat_dev() {
	for n in /sys/bus/iio/devices/iio:device*/name; do
		if [ "$(cat "$n" 2>/dev/null)" = gaitmat ]; then
			dirname "$n"
			return 0
		fi
	done
	return 1
}

wait_mat() {
	i=0
	while ! mat_dev >/dev/null && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	mat_dev >/dev/null
}

uptime_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# Each reader runs in a cgroup of its own when the guest has cgroup v2: its
# cpu.stat counts the run time of every thread it ever had (io_uring
# workers included) to the microsecond. Without one, /proc/PID/stat gives
# the same sum in clock ticks (10 ms, sampled).
CG=
if [ -f /sys/fs/cgroup/cgroup.procs ] ||
	mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null; then
	CG=/sys/fs/cgroup
fi
echo "BENCH accounting $([ -n "$CG" ] && echo cgroup || echo ticks)"

# in_cgroup NAME CMD...: (in a subshell) CMD, in a fresh cgroup NAME if any.
in_cgroup() {
	name=$1
	shift
	if [ -z "$CG" ]; then
		exec "$@"
	fi
	rmdir "$CG/bench-$name" 2>/dev/null
	mkdir -p "$CG/bench-$name"
	echo 0 >"$CG/bench-$name/cgroup.procs"	# 0: the writer itself
	exec "$@"
}

# CPU time of a reader (NAME PID), all its threads living and exited, in ms.
cpu_ms() {
	if [ -n "$CG" ] && [ -f "$CG/bench-$1/cpu.stat" ]; then
		awk '$1 == "usage_usec" { printf "%d\n", $2 / 1000 }' "$CG/bench-$1/cpu.stat"
	else
		awk '{ print ($14 + $15) * 10 }' "/proc/$2/stat" 2>/dev/null || echo 0
	fi
}

size_of() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# The sizes gaitcap chose for the kfifo, for the others too.
setup_buffer() {
	sys=$1
	echo 0 >"$sys/buffer/enable" 2>/dev/null
	for e in "$sys"/scan_elements/*_en; do
		echo 1 >"$e"
	done
	echo "$LENGTH" >"$sys/buffer/length"
	echo "$WATERMARK" >"$sys/buffer/watermark"
	echo monotonic >"$sys/current_timestamp_clock"
}

# The driver's counters are in debugfs, named after the device's label.
overruns() {
	[ -d /sys/kernel/debug/gaitmat ] || mount -t debugfs none /sys/kernel/debug
	cat "/sys/kernel/debug/gaitmat/$(cat "$(mat_dev)/label")/overruns" 2>/dev/null || echo 0
}

# window READER PID HOW: frames stored (HOW: a file to watch, or "status")
frames_now() {
	if [ "$1" = status ]; then
		gaitcap mark --status --timeout 500 --control /run/bench.sock 2>/dev/null |
			sed -n "s/^frames=\([0-9]*\).*/\1/p"
	else
		echo $(($(size_of "$1") / SCAN_BYTES))
	fi
}

# Wait for the reader to store its first frame, let it settle, then measure.
# (Polling `gaitcap mark` in a loop would cost the guest more CPU than the
# readers: each run loads libiio and libxml2. So it is asked twice only.)
window() {
	reader=$1 pid=$2 how=$3
	i=0
	if [ "$how" = status ]; then
		while [ ! -S /run/bench.sock ] && [ $i -lt 200 ]; do
			sleep 0.05
			i=$((i + 1))
		done
	else
		while [ "$(size_of "$how")" = 0 ] && [ $i -lt 200 ]; do
			sleep 0.05
			i=$((i + 1))
		done
	fi
	sleep "$WARM"
	f0=$(frames_now "$how") c0=$(cpu_ms "$reader" "$pid") t0=$(uptime_ms)
	if [ "${PROF_ON:-0}" = 1 ]; then
		# Reported in check(), once the reader has stopped.
		perf record -q -F 1999 -g -p "$pid" -o /tmp/perf.data -- \
			sleep "$SECONDS" >/dev/null 2>&1 || {
			echo "PROF $reader x$scale: perf record failed"
			sleep "$SECONDS"
		}
	else
		sleep "$SECONDS"
	fi
	f1=$(frames_now "$how") c1=$(cpu_ms "$reader" "$pid") t1=$(uptime_ms)
	: "${f0:=0}" "${f1:=0}"
	W="reader=$reader scale=$scale frames=$((f1 - f0)) cpu_ms=$((c1 - c0)) wall_ms=$((t1 - t0))"
}

CHECK="--tiles $TILES --duration 900 --seed 41"

# A fresh emulator for every run: restarting a stream right after another
# reader stopped it can miss the controller's answer when it runs 10x.
sim_start() {
	gaitmat-sim --out /dev/gaitmat-virt --tiles "$TILES" --rate $RATE \
		--rate-scale "$scale" --duration 900 --seed 41 \
		--truth "$D/truth-$1.json" --quiet &
	SIM=$!
	wait_mat || { echo "# the emulated mat did not appear"; exit 1; }
	sys=$(mat_dev)
	dev=/dev/$(basename "$sys")
}

sim_stop() {
	kill -TERM $SIM
	wait $SIM
}

check() {
	r=$1 file=$2 raw=$3
	if [ -f /tmp/perf.data ]; then
		# Where the reader's samples fell: modules and symbols.
		perf report -i /tmp/perf.data --stdio --no-children --percent-limit 1 \
			--sort dso,sym -g none 2>/dev/null | grep '%' | head -n 25 |
			sed "s/^/PROF $r x$scale: /"
		rm -f /tmp/perf.data
	fi
	chk=$(gaitmat-simcheck $raw --truth "$D/truth-$r.json" $CHECK "$file" 2>&1)
	rc=$?
	line=$(echo "$chk" | grep 'scans match the walk' | head -n 1)
	scans=$(echo "$line" | sed -n 's/.*: \([0-9]*\) scans match.*/\1/p')
	missing=$(echo "$line" | sed -n 's/.*, \([0-9]*\) missing in between.*/\1/p')
	t0=$(echo "$line" | sed -n 's/.*first_t=\([0-9]*\).*/\1/p')
	t1=$(echo "$line" | sed -n 's/.*last_t=\([0-9]*\).*/\1/p')
	echo "BENCH check reader=$r scale=$scale scans=${scans:-0} missing=${missing:-0} t0=${t0:-0} t1=${t1:-0} rc=$rc"
	[ $rc = 0 ] || echo "$chk" | tail -n 3 | sed 's/^/# /'
	rm -f "$file"
}

echo "BENCH sum $(gaitmat-bench sum 32)"
# The file side alone, every way of filling the page cache (the ext4 disk).
gaitmat-bench pagecache $D 32 | sed 's/^/BENCH pagecache /'
rm -f $D/pagecache.tmp
# One round at speed $scale: the four readers one after the other.
one_round() {
	rm -f $D/*

	# 1. gaitcap, twice: like for like (page cache only, as the others:
	# no durability sync in the window), then as shipped (fdatasync every
	# second, its writeback charged to gaitcap). It sizes the buffer.
	for variant in gaitcap gaitcap-sync; do
		if [ $variant = gaitcap ]; then
			sync_ms=3600000
		else
			sync_ms=1000
		fi
		sim_start $variant
		ov0=$(overruns)
		(in_cgroup $variant gaitcap capture -o $D/g.gcs --rate max --no-compact --quiet --status 0 \
			--sync-ms $sync_ms --control /run/bench.sock $GAITCAP_ARGS 2>$D/g.log) &
		P=$!
		window $variant $P status
		kill -INT $P
		wait $P
		echo "BENCH overruns reader=$variant scale=$scale n=$(($(overruns) - ov0))"
		sim_stop
		LENGTH=$(sed -n 's/.*buf [0-9]*\/\([0-9]*\) .*/\1/p' $D/g.log | head -n 1)
		WATERMARK=$(sed -n 's/.*buf \([0-9]*\)\/.*/\1/p' $D/g.log | head -n 1)
		SCAN_BYTES=$(gaitcap info --quick $D/g.gcs | sed -n 's/.* \([0-9]*\) B\/record.*/\1/p' | head -n 1)
		: "${SCAN_BYTES:=1}"
		echo "BENCH window $W scan_bytes=$SCAN_BYTES"
		[ -s $D/g.gcs ] || sed 's/^/# /' $D/g.log
		check $variant $D/g.gcs ""
	done
	echo "BENCH buffer scale=$scale length=$LENGTH watermark=$WATERMARK scan_bytes=$SCAN_BYTES"

	# 2. iio_readdev: -b N asks libiio for N-sample blocks, of which it
	# keeps 4 in the kernel. N: 100 ms of scans, as often as gaitcap reads
	# (a quarter of gaitcap's buffer at most). With 1 s blocks it would
	# read less often, and store in bursts that the window cannot measure.
	BLOCK=$((RATE * scale / 10))
	[ "$BLOCK" -le $((LENGTH / 4)) ] || BLOCK=$((LENGTH / 4))
	sim_start readdev
	setup_buffer "$sys"
	ov0=$(overruns)
	(in_cgroup readdev iio_readdev -b $BLOCK -T 5000 "$(basename "$sys")" \
		>$D/r.raw 2>$D/r.log) &
	P=$!
	window readdev $P $D/r.raw
	kill -INT $P
	wait $P
	echo "BENCH overruns reader=readdev scale=$scale n=$(($(overruns) - ov0))"
	echo "BENCH window $W scan_bytes=$SCAN_BYTES"
	sim_stop
	check readdev $D/r.raw --raw

	# 3. a plain read()/write() loop, reading half the buffer at most.
	sim_start readloop
	setup_buffer "$sys"
	echo 1 >"$sys/buffer/enable"
	ov0=$(overruns)
	(in_cgroup readloop gaitmat-bench readloop "$dev" $D/l.raw 3600 \
		$((LENGTH * SCAN_BYTES / 2)) >/dev/null) &
	P=$!
	window readloop $P $D/l.raw
	kill -TERM $P
	wait $P
	echo 0 >"$sys/buffer/enable"
	echo "BENCH overruns reader=readloop scale=$scale n=$(($(overruns) - ov0))"
	echo "BENCH window $W scan_bytes=$SCAN_BYTES"
	sim_stop
	check readloop $D/l.raw --raw
}

for scale in $SCALES; do
	for round in $(seq "$ROUNDS"); do
		one_round
	done
done

# Where each reader's CPU goes, at the last speed: a round of its own, with
# perf sampling each reader's window (perf costs CPU: not measured).
echo "BENCH measured"
if [ "$PROFILE" = 1 ]; then
	echo "BENCH profile-start"
	if command -v perf >/dev/null; then
		for scale in $SCALES; do :; done	# the last one
		PROF_ON=1
		one_round
	else
		echo "PROF no perf in the guest (lab --tool /usr/bin/perf; Debian's linux-perf)"
	fi
fi
rm -rf $D
echo "BENCH done"
