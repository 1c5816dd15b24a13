# SPDX-License-Identifier: GPL-2.0
# gaitmat-attach, the btattach of the mat: a controller on a plain serial
# port (here ttyS1, fed by the emulator on the host through `lab
# --serial-pipe` and --host-cmd; on a desk a USB-serial bridge) reaches the
# driver through the virtual transport. Its IIO device appears, captures,
# and goes away when the helper stops. Prints TAP.
. /lab/lib.sh
[ "$LAB_SERIAL" = 1 ] && [ -c /dev/ttyS1 ] || lab_skip "needs lab --serial-pipe with the emulator as --host-cmd (and no --ssdt)"
command -v gaitmat-attach >/dev/null || lab_skip "gaitmat-attach not built"

virt_iio() {
	for d in /sys/devices/virtual/misc/gaitmat-virt/gaitmat-virt.*/iio:device*; do
		[ -e "$d" ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

gaitmat-attach -B 230400 -v /dev/ttyS1 2>/tmp/attach.log &
att=$!
n=0
until virt_iio >/dev/null || [ $n -ge 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
lab_check "the controller on ttyS1 gets its IIO device" virt_iio
dev=$(virt_iio)
d=/sys/bus/iio/devices/$dev
lab_check "with the geometry the emulator announced" sh -c "[ \"\$(cat $d/num_tiles $d/rows_per_tile $d/columns_per_tile $d/sensel_pitch_um | tr '\n' ' ')\" = '1 64 64 9500 ' ]"
lab_check "iio_readdev captures 10 scans through the helper" sh -c "iio_readdev -u local: -b 2 -s 10 -T 30000 $dev >/tmp/att.bin 2>/dev/null && [ \$(wc -c </tmp/att.bin) -eq $((10 * 8224)) ]"
# The receive counters are in debugfs, named after the IIO device's label.
[ -d /sys/kernel/debug/gaitmat ] || mount -t debugfs none /sys/kernel/debug
k=/sys/kernel/debug/gaitmat/$(cat $d/label)
for c in crc_errors resyncs frame_errors seq_gaps; do
	lab_check "$c is 0" sh -c "[ \$(cat $k/$c) -eq 0 ]"
done
kill $att
wait $att
lab_check "the helper exits cleanly on SIGTERM" test $? -eq 0
lab_check "and the IIO device is gone with it" sh -c "n=0; while [ -e $d ]; do [ \$n -ge 50 ] && exit 1; sleep 0.1; n=\$((n+1)); done"
sed 's/^/# /' /tmp/attach.log
lab_done
