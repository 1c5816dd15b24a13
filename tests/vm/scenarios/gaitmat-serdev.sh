# SPDX-License-Identifier: GPL-2.0
# The real UART path: with `lab --ssdt` the firmware describes a gaitmat on
# COM2, gaitmat_serdev binds it, and the emulator on the host plays the
# controller on QEMU's second serial port (the suite passes it as
# --host-cmd). The controller's IIO device appears, iio_readdev captures
# from it, the counters stay clean, and unbinding and rebinding the driver
# brings the device back. Prints TAP.
. /lab/lib.sh
[ "$LAB_SSDT" = 1 ] || lab_skip "needs lab --ssdt and the emulator as --host-cmd"

sdev=""
for d in /sys/bus/serial/devices/*; do
	grep -q 'gaitcap,gaitmat' "$d/modalias" 2>/dev/null && sdev=${d##*/}
done
lab_check "serdev device for gaitcap,gaitmat" test -n "$sdev"
lab_check "bound to the gaitmat driver" sh -c "[ \"\$(basename \"\$(readlink /sys/bus/serial/devices/$sdev/driver)\")\" = gaitmat ]"

serdev_iio() {
	for d in /sys/bus/serial/devices/$sdev/iio:device*; do
		[ -e "$d" ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

wait_iio() {
	n=0
	until serdev_iio >/dev/null; do
		[ $n -ge 300 ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
}

lab_check "the controller on the UART gets its IIO device" wait_iio
dev=$(serdev_iio)
d=/sys/bus/iio/devices/$dev
lab_check "named gaitmat, labelled $sdev" sh -c "[ \"\$(cat $d/name)\" = gaitmat ] && [ \"\$(cat $d/label)\" = $sdev ]"
lab_check "with the geometry the emulator announced" sh -c "[ \"\$(cat $d/num_tiles $d/rows_per_tile $d/columns_per_tile $d/sensel_pitch_um | tr '\n' ' ')\" = '1 64 64 9500 ' ]"
echo monotonic >"$d/current_timestamp_clock"
# One 64 x 64 tile: 64 rows of 128 bytes and the 32-byte per-frame block.
lab_check "iio_readdev captures 20 scans over the UART" sh -c "iio_readdev -u local: -b 4 -s 20 -T 30000 $dev >/tmp/uart.bin 2>/dev/null && [ \$(wc -c </tmp/uart.bin) -eq $((20 * 8224)) ]"
# (overruns may count scans that came between the last read and the
# disable: iio_readdev stops reading before it disables the buffer)
# The receive counters are in debugfs, named after the IIO device's label.
[ -d /sys/kernel/debug/gaitmat ] || mount -t debugfs none /sys/kernel/debug
k=/sys/kernel/debug/gaitmat/$(cat $d/label)
for c in crc_errors resyncs frame_errors seq_gaps; do
	lab_check "$c is 0" sh -c "[ \$(cat $k/$c) -eq 0 ]"
done
echo "# frames $(cat $k/frames) overruns $(cat $k/overruns) controller_dropped $(cat $k/controller_dropped)"

lab_check "unbind removes the device" sh -c "echo $sdev >/sys/bus/serial/drivers/gaitmat/unbind && [ ! -e $d ]"
lab_check "bind asks the controller, which announces itself again" sh -c "echo $sdev >/sys/bus/serial/drivers/gaitmat/bind"
lab_check "and the device is back" wait_iio

# ---- Teardown (docs/driver.md): unbind while capturing stops the mat. ----
# The UART's own byte counts (ttyS1 is line 1) show what left the guest and
# how fast the controller talks, whatever the driver's ABI says.
uart() {	# uart tx|rx
	sed -n "s/^1:.* $1:\([0-9]*\).*/\1/p" /proc/tty/driver/serial
}
uptime_ms() {
	read -r up _ </proc/uptime
	cs=${up#*.}
	# "09" would be an octal error in $(( )): drop a leading zero.
	echo $(( ${up%.*} * 1000 + 10 * ${cs#0} ))
}
# Bytes the controller sends in $1 ms.
rx_in() {
	a=$(uart rx)
	sleep "$1"
	echo $(( $(uart rx) - a ))
}
capture() {	# capture DEVICE-FOLDER: every scan element, then enable
	for f in "$1"/scan_elements/*_en; do echo 1 >"$f"; done
	echo 1 >"$1/buffer/enable"
}
# silence_ms high enough that nothing below is taken for a lost controller.
echo 20000 >/sys/module/gaitmat/parameters/silence_ms
dev=$(serdev_iio)
d=/sys/bus/iio/devices/$dev
capture "$d"
sleep 1
busy=$(rx_in 1)
echo "# streaming: $busy bytes/s from the controller"
tx0=$(uart tx)
lab_check "unbind while capturing" sh -c "echo $sdev >/sys/bus/serial/drivers/gaitmat/unbind"
tx1=$(uart tx)
echo "# unbind sent $((tx1 - tx0)) bytes"
lab_check "unbind sends the STOP before the port closes" test $((tx1 - tx0)) -gt 0
lab_check "bind again" sh -c "echo $sdev >/sys/bus/serial/drivers/gaitmat/bind"
lab_check "the device is back" wait_iio
# What the controller sent while nobody listened drains first; by the time
# it answered the new GET_INFO, only what it sends now is left.
sleep 0.5
idle=$(rx_in 2)
echo "# after rebinding: $idle bytes in 2 s from the controller (was $busy/s)"
lab_check "the controller heard the STOP: it no longer streams" test "$idle" -lt $((busy / 2))

# ---- Unbind while a sysfs write waits for an ACK that cannot come. ----
# The emulator falls silent at a scan the suite sets (--fault silence):
# it then neither sends nor hears anything, so a command waits for its
# ACK up to 3 x ack_timeout_ms. The unbind must not wait for it.
echo 2000 >/sys/module/gaitmat/parameters/ack_timeout_ms
dev=$(serdev_iio)
d=/sys/bus/iio/devices/$dev
capture "$d"
sleep 0.5
echo "# streaming again: $(rx_in 0.5) bytes in 0.5 s, enable $(cat "$d/buffer/enable")"
# Silent: nothing for two looks of 0.3 s (heartbeats come every 0.5 s).
n=0
quiet=0
while [ $quiet -lt 2 ] && [ $n -lt 100 ]; do
	if [ "$(rx_in 0.3)" -gt 0 ]; then quiet=0; else quiet=$((quiet + 1)); fi
	n=$((n + 1))
done
echo "# silent after $n looks at 0.3 s"
lab_check "the controller falls silent while streaming" test $quiet -eq 2
echo 100 | dd of="$d/sampling_frequency" 2>/tmp/write.err &
writer=$!
sleep 0.2
t0=$(uptime_ms)
lab_check "unbind during a write waiting for its ACK" sh -c "echo $sdev >/sys/bus/serial/drivers/gaitmat/unbind"
t1=$(uptime_ms)
wait $writer
wrc=$?
echo "# unbind took $((t1 - t0)) ms with a write waiting (ack_timeout_ms 2000, 3 tries); the write exited $wrc"
lab_check "the waiting write fails with ENODEV" sh -c "cat /tmp/write.err; [ $wrc -ne 0 ] && grep -q 'No such device' /tmp/write.err"
lab_check "unbind is prompt (under 1 s)" test $((t1 - t0)) -lt 1000
lab_done
