# SPDX-License-Identifier: GPL-2.0
# With --ssdt the firmware describes a gaitmat on COM2: the serdev core must
# have claimed ttyS1 and created a serdev device whose modalias carries the
# compatible "gaitcap,gaitmat" our driver matches. Prints TAP.
. /lab/lib.sh
[ "$LAB_SSDT" = 1 ] || lab_skip "needs lab --ssdt"

lab_check "SSDT loaded" sh -c 'ls /sys/firmware/acpi/tables/ | grep -q "^SSDT"'
dev=""
for d in /sys/bus/serial/devices/*; do
	grep -q 'gaitcap,gaitmat' "$d/modalias" 2>/dev/null && dev=$d
done
lab_check "serdev device with compatible gaitcap,gaitmat exists" test -n "$dev"
lab_check "ttyS1 taken over by serdev (no /dev/ttyS1)" test ! -e /dev/ttyS1
if [ -n "$dev" ]; then
	echo "# serdev device ${dev##*/}: $(cat "$dev/modalias")"
	if [ -e "$dev/driver" ]; then
		echo "# bound to driver $(basename "$(readlink "$dev/driver")")"
	else
		echo "# not bound to a driver (gaitmat_serdev not loaded?)"
	fi
fi
lab_done
