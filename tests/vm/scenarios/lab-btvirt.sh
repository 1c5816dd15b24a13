# SPDX-License-Identifier: GPL-2.0
# lab --btvirt N: btvirt created N virtual LE controllers on /dev/vhci and
# the management interface can power them on. Prints TAP.
. /lab/lib.sh
[ "$LAB_BTVIRT" -gt 0 ] || lab_skip "needs lab --btvirt N"

n=$(ls -d /sys/class/bluetooth/hci* 2>/dev/null | wc -l)
lab_check "$LAB_BTVIRT controllers (found $n)" test "$n" -eq "$LAB_BTVIRT"
i=0
while [ $i -lt "$LAB_BTVIRT" ]; do
	lab_check "hci$i powers on" sh -c ". /lab/lib.sh; lab_btmgmt -i $i power on | grep -q 'powered'"
	i=$((i + 1))
done
lab_check "hci1 advertises" sh -c '. /lab/lib.sh; lab_btmgmt -i 1 connectable on >/dev/null && lab_btmgmt -i 1 advertising on | grep -q advertising'
lab_done
