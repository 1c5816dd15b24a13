# SPDX-License-Identifier: GPL-2.0
# The capture benchmark, inside one guest (run-capture-bench prepends the
# settings SCALES, SECONDS, WARM, TILES, ROUNDS, READERS, BUFFER_MS,
# PAGECACHE, PROFILE; the lab mounts an ext4 disk). For each speed-up S of
# the emulated mat (its highest rate, 200 Hz, times S, through the virtual
# transport), in ROUNDS rounds, these readers capture the same stream one
# after the other onto the same ext4 disk, each from a fresh emulator:
#   gaitcap       gaitcap capture --no-compact, no durability sync in the
#                 window: page cache only, like readdev and readloop
#   gaitcap-sync  the same with a durability sync every second
#   gaitcap-shipped  the shipped defaults: zstd compaction, 1 s syncs
#   readdev       iio_readdev > file (libiio's own buffer and read()s)
#   readloop      a plain blocking read()/write() loop (gaitmat-bench)
#   readloop-sync the same loop with an fdatasync() every second
#   floor         the same blocking read() into one reused buffer, no file:
#                 the physical floor of any reader (one kernel copy)
# Odd rounds run them in this order, even rounds in the reverse one.
# Every reader has the same kernel buffer length: BUFFER_MS of scans. The
# loops and the floor wake at a watermark of 100 ms of scans (gaitcap holds
# about that long between reads). libiio sets the length to 4 x its -b and
# the watermark to -b, so iio_readdev gets -b LENGTH/4; each reader's length
# and watermark are read back from sysfs inside its window and reported.
# Each reader runs WARM seconds, then SECONDS more between two samples of its
# CPU time and of the bytes it has stored; start-up (libiio scanning sysfs,
# the session's preallocation) is outside the window. Afterwards every file is
# checked scan by scan against the walk (gaitmat-simcheck), which lists each
# run of missing scans: only those inside the window count as lost.
# Output: "BENCH key=value" lines, then "BENCH measured"; with PROFILE=1 one
# more round at the last speed under perf (not measured: "PROF" lines), then
# "BENCH done".

RATE=200
D=${LAB_DISK_DIR:?the bench needs lab --disk}/bench
SOCK=/run/bench.sock
COUNT=/run/bench.count
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

# The common kernel buffer, for the readers that do not set it themselves.
setup_buffer() {
	echo 0 >"$sys/buffer/enable" 2>/dev/null
	for e in "$sys"/scan_elements/*_en; do
		echo 1 >"$e"
	done
	echo "$LENGTH" >"$sys/buffer/length"
	echo "$WATERMARK" >"$sys/buffer/watermark"
	echo monotonic >"$sys/current_timestamp_clock"
}

# The driver's overrun count: in debugfs, named after the device's label
# ("na" where the driver has none).
overruns() {
	[ -d /sys/kernel/debug/gaitmat ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	cat "/sys/kernel/debug/gaitmat/$(cat "$sys/label")/overruns" 2>/dev/null || echo na
}

# bytes_now HOW: the bytes a reader has stored (HOW: "status" for gaitcap,
# in frames; "count" for the floor; else a file to watch). Empty if unknown.
bytes_now() {
	case $1 in
	status)
		f=$(gaitcap mark --status --timeout 500 --control $SOCK 2>/dev/null |
			sed -n 's/^OK.* frames=\([0-9]*\).*/\1/p; s/^frames=\([0-9]*\).*/\1/p' |
			head -n 1)
		[ -n "$f" ] && echo $((f * SCAN_BYTES)) ;;
	count) gaitmat-bench count $COUNT 2>/dev/null ;;
	*) size_of "$1" ;;
	esac
}

stored_any() {
	case $1 in
	status) [ -S $SOCK ] ;;
	count) [ "$(gaitmat-bench count $COUNT 2>/dev/null || echo 0)" != 0 ] ;;
	*) [ "$(size_of "$1")" != 0 ] ;;
	esac
}

# Wait for the reader to store its first bytes, let it settle, then measure.
# (Polling `gaitcap mark` in a loop would cost the guest more CPU than the
# readers: each run loads libiio and libxml2. So it is asked twice only.)
window() {
	reader=$1 pid=$2 how=$3
	i=0
	while ! stored_any "$how" && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep "$WARM"
	b0=$(bytes_now "$how") c0=$(cpu_ms "$reader" "$pid") t0=$(uptime_ms) o0=$(overruns)
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
	b1=$(bytes_now "$how") c1=$(cpu_ms "$reader" "$pid") t1=$(uptime_ms) o1=$(overruns)
	# What the kernel buffer was while it ran (libiio sets its own length).
	kl=$(cat "$sys/buffer/length" 2>/dev/null) kw=$(cat "$sys/buffer/watermark" 2>/dev/null)
	if [ -n "$b0" ] && [ -n "$b1" ]; then
		bytes=$((b1 - b0))
	else
		bytes=unknown
	fi
	ov=na
	[ "$o0" != na ] && [ "$o1" != na ] && ov=$((o1 - o0))
	echo "BENCH window reader=$reader scale=$scale round=$round bytes=$bytes cpu_ms=$((c1 - c0)) wall_ms=$((t1 - t0)) t0_ms=$t0 t1_ms=$t1 length=${kl:-?} watermark=${kw:-?} overruns=$ov scan_bytes=$SCAN_BYTES"
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

# check READER FILE [--raw]: the file against the walk, and where scans are
# missing.
check() {
	r=$1 file=$2 raw=$3
	if [ -f /tmp/perf.data ]; then
		# Where the reader's samples fell: modules and symbols.
		perf report -i /tmp/perf.data --stdio --no-children --percent-limit 1 \
			--sort dso,sym -g none 2>/dev/null | grep '%' | head -n 25 |
			sed "s/^/PROF $r x$scale: /"
		rm -f /tmp/perf.data
	fi
	chk=$(gaitmat-simcheck $raw --list-gaps --truth "$D/truth-$r.json" $CHECK "$file" 2>&1)
	rc=$?
	line=$(echo "$chk" | grep 'scans match the walk' | head -n 1)
	scans=$(echo "$line" | sed -n 's/.*: \([0-9]*\) scans match.*/\1/p')
	missing=$(echo "$line" | sed -n 's/.*, \([0-9]*\) missing in between.*/\1/p')
	t0=$(echo "$line" | sed -n 's/.*first_t=\([0-9]*\).*/\1/p')
	t1=$(echo "$line" | sed -n 's/.*last_t=\([0-9]*\).*/\1/p')
	# Each run of missing scans, with the scan times around it: the
	# analysis counts those inside the window (t0_ms..t1_ms, same clock).
	echo "$chk" | sed -n "s/.*: gap seq=[0-9.]* /BENCH gap reader=$r scale=$scale round=$round /p"
	echo "BENCH check reader=$r scale=$scale round=$round scans=${scans:-0} missing=${missing:-0} t0=${t0:-0} t1=${t1:-0} rc=$rc"
	[ $rc = 0 ] || echo "$chk" | grep -v ': gap seq=' | tail -n 3 | sed 's/^/# /'
	rm -f "$file"
}

# The gaitcap readers: all but the shipped one keep raw chunks; only the
# first one never syncs inside the window. All share the kernel buffer's
# length; the watermark is gaitcap's own (its hold: watermark / the rate the
# mat announces, 200 Hz, shortened when scans come faster, as they do here).
run_gaitcap() {
	variant=$1
	case $variant in
	gaitcap) opts="--no-compact --sync-ms 3600000" ;;
	gaitcap-sync) opts="--no-compact --sync-ms 1000" ;;
	*) opts="" ;;
	esac
	sim_start $variant
	rm -f $SOCK
	ts=$(uptime_ms)
	(in_cgroup $variant gaitcap capture -o $D/g.gcs --rate max --buffer $LENGTH \
		--quiet --status 0 --subject BENCH-01 --control $SOCK $opts $GAITCAP_ARGS \
		2>$D/g.log) &
	P=$!
	window $variant $P status
	kill -INT $P
	wait $P
	reads $variant "$(sed -n 's/.* \([0-9]*\) reads .*/\1/p' $D/g.log | head -n 1)"
	sim_stop
	[ -s $D/g.gcs ] || sed 's/^/# /' $D/g.log
	check $variant $D/g.gcs ""
}

# iio_readdev: -b N asks libiio for N-scan blocks and a kernel buffer of
# 4 x N; it reads at the watermark and writes a block to the file when full.
run_readdev() {
	sim_start readdev
	setup_buffer
	(in_cgroup readdev iio_readdev -b $((LENGTH / 4)) -T 5000 "$(basename "$sys")" \
		>$D/r.raw 2>$D/r.log) &
	P=$!
	window readdev $P $D/r.raw
	kill -INT $P
	wait $P
	sim_stop
	check readdev $D/r.raw --raw
}

# The loop (with an fdatasync() every second for readloop-sync) and the
# floor, reading at most half the buffer at a time.
run_loop() {
	variant=$1
	sim_start $variant
	setup_buffer
	echo 1 >"$sys/buffer/enable"
	len=$((LENGTH * SCAN_BYTES / 2))
	case $variant in
	readloop) cmd="readloop $dev $D/l.raw 3600 $len" how=$D/l.raw ;;
	readloop-sync) cmd="readloop $dev $D/l.raw 3600 $len 1000" how=$D/l.raw ;;
	floor) rm -f $COUNT; cmd="floor $dev $COUNT 3600 $len" how=count ;;
	esac
	ts=$(uptime_ms)
	(in_cgroup $variant gaitmat-bench $cmd >$D/l.out) &
	P=$!
	window $variant $P $how
	kill -TERM $P
	wait $P
	reads $variant "$(sed -n 's/.*reads=\([0-9]*\).*/\1/p' $D/l.out)"
	echo 0 >"$sys/buffer/enable"
	sim_stop
	if [ $variant = floor ]; then
		echo "BENCH check reader=floor scale=$scale round=$round nofile=1 rc=0"
	else
		check $variant $D/l.raw --raw
	fi
}

# reads READER N: how often it read the device, over its whole run since $ts.
reads() {
	echo "BENCH reads reader=$1 scale=$scale round=$round reads=${2:-0} ms=$(($(uptime_ms) - ts))"
}

run_reader() {
	case $1 in
	gaitcap*) run_gaitcap "$1" ;;
	readdev) run_readdev ;;
	*) run_loop "$1" ;;
	esac
}

# The size of a scan, from a short capture (it also warms the caches).
scale=1

sim_start probe
gaitcap capture -o $D/p.gcs --rate max --duration 2 --quiet --status 0 --subject BENCH-01 \
	--control none --no-compact >$D/p.log 2>&1
sim_stop
SCAN_BYTES=$(gaitcap info --quick $D/p.gcs 2>/dev/null | sed -n 's/.* \([0-9]*\) B\/record.*/\1/p' | head -n 1)
if [ -z "$SCAN_BYTES" ]; then
	echo "# no scan size from a 2 s capture:"
	sed 's/^/# /' $D/p.log
	exit 1
fi
rm -f $D/p.gcs $D/p.log
echo "BENCH scan_bytes=$SCAN_BYTES"

echo "BENCH sum $(gaitmat-bench sum 32)"
if [ "$PAGECACHE" = 1 ]; then
	# The file side alone, every way of filling the page cache (the ext4 disk).
	gaitmat-bench pagecache $D 32 | sed 's/^/BENCH pagecache /'
	rm -f $D/pagecache.tmp
fi

REVERSED=
for r in $READERS; do
	REVERSED="$r $REVERSED"
done

# One round at speed $scale: every reader, one after the other.
one_round() {
	rm -f $D/*
	LENGTH=$((RATE * scale * BUFFER_MS / 1000))
	WATERMARK=$((RATE * scale / 10))
	echo "BENCH buffer scale=$scale length=$LENGTH watermark=$WATERMARK scan_bytes=$SCAN_BYTES"
	if [ $((round % 2)) = 1 ]; then
		order=$READERS
	else
		order=$REVERSED
	fi
	echo "BENCH order scale=$scale round=$round $order"
	for reader in $order; do
		run_reader $reader
	done
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
		PROF_ON=1 round=1
		one_round
	else
		echo "PROF no perf in the guest (lab --tool /usr/bin/perf; Debian's linux-perf)"
	fi
fi
rm -rf $D
echo "BENCH done"
