# SPDX-License-Identifier: GPL-2.0
# What the rest of the system sees of the gaitmat driver: real uevents
# (add when a controller announces itself, remove when it is unplugged)
# and its tracepoints (gaitmat_frame_start, gaitmat_frame_pushed,
# gaitmat_error: prefixed, as tracepoint names are kernel-wide) in tracefs, where
# eBPF's tp/ and raw_tp/ attach. Prints TAP.
. /lab/lib.sh
command -v gaitmat-sim >/dev/null || lab_skip "gaitmat-sim not built"
command -v udevadm >/dev/null || lab_skip "udevadm not in the guest"
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null

for e in gaitmat_frame_start gaitmat_frame_pushed gaitmat_error; do
	lab_check "tracepoint gaitmat:$e exists" test -d $T/events/gaitmat/$e
done
echo 1 >$T/events/gaitmat/enable
echo >$T/trace

udevadm monitor --kernel --subsystem-match=iio >/tmp/uevents 2>&1 &
mon=$!
sleep 0.5
# A walk with one corrupted frame (a CRC error, then a sequence gap).
gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --duration 30 --fault crc:1,at=5 --quiet &
sim=$!
n=0
until ls /sys/devices/virtual/misc/gaitmat-virt/gaitmat-virt.*/iio:device* >/dev/null 2>&1 || [ $n -ge 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
dev=$(basename /sys/devices/virtual/misc/gaitmat-virt/gaitmat-virt.*/iio:device*)
iio_readdev -u local: -b 2 -s 20 -T 20000 "$dev" >/dev/null 2>&1
kill $sim
wait $sim 2>/dev/null
sleep 0.5
kill $mon
echo 0 >$T/events/gaitmat/enable

lab_check "uevent add for $dev" grep -q "add .*/$dev (iio)" /tmp/uevents
lab_check "uevent remove for $dev" grep -q "remove .*/$dev (iio)" /tmp/uevents
lab_check "gaitmat_frame_start fired" grep -q "gaitmat_frame_start: link=" $T/trace
lab_check "gaitmat_frame_pushed fired with a sequence number" grep -qE "gaitmat_frame_pushed: link=[0-9]+ seq=[0-9]+ clock_us=[0-9]+ timestamp=[0-9-]+ bytes=8224" $T/trace
lab_check "gaitmat_error fired for the corrupted frame" grep -qE "gaitmat_error: link=[0-9]+ kind=(crc|seq_gap)" $T/trace
grep -m3 "gaitmat\|frame_\|error:" $T/trace | sed 's/^/# /'
lab_done
