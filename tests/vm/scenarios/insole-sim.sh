# SPDX-License-Identifier: GPL-2.0
# gaitinsole-sim on btvirt (lab --btvirt 3): the left insole on hci1, the
# right one on hci2, BlueZ's own gatttool on hci0 as an independent client.
# It discovers the services, reads the description (Read Blob at MTU 23)
# and receives notifications, which must be exactly the ones the ground
# truth says were sent, in order, with the injected drops missing. TAP.
. /lab/lib.sh
[ "$LAB_BTVIRT" -ge 3 ] || lab_skip "needs lab --btvirt 3"
command -v gatttool >/dev/null || lab_skip "needs gatttool (lab --tool /usr/bin/gatttool)"
SIM=/opt/gaitcap/bin/gaitinsole-sim
VENDOR=5a7e0001-6761-6974-6361-70696e736f6c
W=/tmp/insole
mkdir -p $W

lab_btmgmt -i 0 power on >/dev/null
$SIM --hci 1 --side left --autostart --seed 5 --duration 120 \
	--truth $W/left.tsv --ready-file $W/left.ready --exit-after 300 \
	2>$W/left.log &
LPID=$!
$SIM --hci 2 --side right --autostart --seed 5 --duration 120 \
	--fault drop:2,at=12 --truth $W/right.tsv --ready-file $W/right.ready \
	--exit-after 300 2>$W/right.log &
RPID=$!
lab_check "left simulator advertising" lab_wait_for $W/left.ready 200
lab_check "right simulator advertising" lab_wait_for $W/right.ready 200
LADDR=$(cat $W/left.ready 2>/dev/null)
RADDR=$(cat $W/right.ready 2>/dev/null)
echo "# left $LADDR right $RADDR"

# gatttool's one-shot mode (no MTU exchange: ATT_MTU 23).
gatt() {
	timeout 30 gatttool -i hci0 -t public "$@" 2>&1
}
gatt -b "$LADDR" --primary >$W/primary.out
cat $W/primary.out | sed 's/^/# /'
lab_check "primary services: GAP, DIS, battery, RSC, gaitcap" sh -c "
	grep -q 'uuid: 00001800-' $W/primary.out &&
	grep -q 'uuid: 0000180a-' $W/primary.out &&
	grep -q 'uuid: 0000180f-' $W/primary.out &&
	grep -q 'uuid: 00001814-' $W/primary.out &&
	grep -q 'uuid: $VENDOR' $W/primary.out"
gatt -b "$LADDR" --characteristics >$W/chars.out
lab_check "the control point: write + indicate, value 0x001d" \
	grep -q 'char properties = 0x28, char value handle = 0x001d, uuid = 5a7e0003-' $W/chars.out
gatt -b "$LADDR" --char-read -a 0x0020 >$W/info.out
sed 's/^/# /' $W/info.out
# 120 bytes at MTU 23: a Read and five Read Blobs; version 1, left, 16 cells.
lab_check "description read whole (Read Blob)" sh -c "
	v=\$(sed -n 's/^Characteristic value\/descriptor: //p' $W/info.out)
	set -- \$v
	[ \$# -eq 120 ] && [ \"\$1 \$2 \$3 \$4\" = '01 00 10 03' ] && [ \"\$5 \$6\" = '64 00' ]"
gatt -b "$LADDR" --char-read -a 0x0011 >$W/batt.out
lab_check "battery level 87 %" grep -q 'descriptor: 57' $W/batt.out

# Notifications need MTU 247: gatttool's interactive mode exchanges it.
listen() {
	{
		echo "connect"; sleep 4
		echo "mtu 247"; sleep 2
		echo "char-write-req 0x001b 0100"; sleep "$2"
		echo "disconnect"; sleep 1
		echo "quit"
	} | timeout 60 gatttool -i hci0 -t public -b "$1" -I 2>&1 |
		tr -d '\033' | sed 's/\[[0-9;]*m//g'
}
# btvirt gives hci0's next link the handle of a link still up: closing the
# ATT socket leaves the LE link, so drop it before the other insole.
unlink_le() {
	lab_btmgmt -i 0 disconnect -t 1 "$1" >/dev/null 2>&1
	sleep 2
}
listen "$LADDR" 8 >$W/lnotify.out
unlink_le "$LADDR"
gatt -b "$RADDR" --char-read -a 0x0020 >$W/rinfo.out
lab_check "right insole says right" sh -c "
	set -- \$(sed -n 's/^Characteristic value\/descriptor: //p' $W/rinfo.out)
	[ \$# -eq 120 ] && [ \"\$2\" = 01 ]"
sleep 1
listen "$RADDR" 8 >$W/rnotify.out
grep -v Notification $W/lnotify.out | head -20 | sed 's/^/# /'
echo "# left: $(grep -c 'Notification handle = 0x001a' $W/lnotify.out) notifications, right: $(grep -c 'Notification handle = 0x001a' $W/rnotify.out)"

kill $LPID $RPID 2>/dev/null
wait $LPID $RPID
sed 's/^/# /' $W/left.log $W/right.log | tail -12
CHECK=/lab/scenarios/insole-notify-check.sh
lab_check "left: notifications match the truth" sh $CHECK $W/left.tsv $W/lnotify.out 40
lab_check "right: notifications match the truth, drops missing" sh $CHECK $W/right.tsv $W/rnotify.out 40 2
lab_check "truth: left contacts alternate with right" sh -c "
	[ \$(grep -c '^contact' $W/left.tsv) -gt 20 ] &&
	[ \$(grep -c '^contact' $W/right.tsv) -gt 20 ]"
lab_done
