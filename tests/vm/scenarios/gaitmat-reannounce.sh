# SPDX-License-Identifier: GPL-2.0
# A controller that reboots in a loop announces a new boot id every time.
# The driver must not unregister and register an IIO device (hundreds of
# channels, a uevent and log lines each) at the controller's pace: it
# backs off (docs/driver.md, "Life cycle"), and once the loop ends the
# controller's last boot gets its device. The emulator plays the loop
# through /dev/gaitmat-virt with consecutive reset faults, streaming on
# its own after each boot (--autostart), so each boot comes a scan after
# the last. Prints TAP.
. /lab/lib.sh
command -v gaitmat-sim >/dev/null || lab_skip "gaitmat-sim not built"

RESETS=60

iio_of_virt() {
	for d in /sys/devices/virtual/misc/gaitmat-virt/gaitmat-virt.*/iio:device*; do
		[ -e "$d" ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

# Registrations the driver logged so far ("controller X: N tiles of ...").
registered() {
	dmesg | grep -c 'gaitmat-virt.*: controller .*: [0-9]* tiles of'
}

uptime_ms() {
	read -r up _ </proc/uptime
	cs=${up#*.}
	# "09" would be an octal error in $(( )): drop a leading zero.
	echo $(( ${up%.*} * 1000 + 10 * ${cs#0} ))
}

r0=$(registered)
t0=$(uptime_ms)
gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 100 --duration 120 \
	--autostart --verbose --fault reset:$RESETS,at=20 \
	2>/tmp/sim.err &
sim=$!

# The loop is over when the emulator has logged every reset.
n=0
until [ "$(grep -c 'fault reset' /tmp/sim.err)" -ge $RESETS ]; do
	[ $n -ge 600 ] && break
	sleep 0.1
	n=$((n + 1))
done
t1=$(uptime_ms)
resets=$(grep -c 'fault reset' /tmp/sim.err)
during=$(( $(registered) - r0 ))
echo "# $resets reboots in $((t1 - t0)) ms; the driver registered $during devices meanwhile"
lab_check "the emulator rebooted $RESETS times" test "$resets" -ge $RESETS
# Back-off from 250 ms doubling to 2 s: about 7 in the first 6 s.
lab_check "registrations back off (at most 10 while it rebooted)" test "$during" -le 10
# The last boot is registered within the longest hold-off (2 s), and
# nothing changes after that.
sleep 3
lab_check "then the controller's last boot has its device" iio_of_virt
dev=$(iio_of_virt)
after=$(( $(registered) - r0 ))
echo "# $after registrations in all"
lab_check "at most one more registration once the loop ended" test "$after" -le $((during + 1))
sleep 1
lab_check "and the device stays" sh -c "[ -e /sys/bus/iio/devices/$dev ] && [ \$(( \$(dmesg | grep -c 'gaitmat-virt.*: controller .*: [0-9]* tiles of') - $r0 )) -eq $after ]"
kill $sim
wait $sim 2>/dev/null
lab_done
