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
lab_done
