# SPDX-License-Identifier: GPL-2.0
# The second serial port carries bytes both ways between the guest and a
# host command (lab --serial-pipe P --host-cmd tests/vm/helpers/pipe-peer):
# the host repeats a token line; we read it from ttyS1 and answer "ack
# TOKEN", which the host waits for. Bytes sent before the port is opened
# are lost, as on hardware, hence the repetition.
. /lab/lib.sh
[ "$LAB_SERIAL" = 1 ] || lab_skip "needs lab --serial-pipe"
[ "$LAB_SSDT" = 1 ] && lab_skip "with --ssdt ttyS1 belongs to serdev"

stty -F /dev/ttyS1 raw -echo clocal 115200 || exit 1
exec 3<>/dev/ttyS1
token=$(timeout 30 sh -c '
	while read -r line; do
		case $line in lab-pipe-token-*) echo "$line"; exit 0 ;; esac
	done' <&3)
[ -n "$token" ] || { echo "no token arrived on ttyS1 within 30 s"; exit 1; }
echo "received $token on ttyS1"
i=0
while [ $i -lt 5 ]; do
	echo "ack $token" >&3
	i=$((i + 1))
done
exec 3>&-
