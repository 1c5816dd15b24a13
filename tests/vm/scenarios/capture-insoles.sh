# SPDX-License-Identifier: GPL-2.0
# The mat and both BLE insoles captured into one session through the real
# kernel Bluetooth stack (btvirt -L -l4: hci1 the left insole, hci2 the
# right one, hci0 and hci3 the appliance's two centrals). The insoles are
# gaitcap-test-insole, a minimal peripheral serving the gaitcap profile on
# an L2CAP ATT socket. The left drops notifications 100, 101 and 470 (6 s after
# the cut, so a slow reconnect cannot swallow it) and its link is cut with
# `btmgmt disconnect` mid-walk: the capture
# reconnects; the right drops 50 and 300 and stays up. The oracle
# (gaitcap-test-insole check) then finds, for each side, every notification
# it sent in the file exactly once, in order, and every missing one inside
# a gap record.
# Why two centrals: btvirt 5.66 forwards an ACL packet with the sender's
# connection handle (emulator/btdev.c send_acl), and a controller's second
# LE link gets handle 0x002b at the central but 0x002a at the new
# peripheral, so with one central the right insole's ATT traffic lands on
# the left's link. One link per central keeps both ends on 0x002a
# (docs/lab.md, docs/capture.md "Insoles"). Prints TAP.
. /lab/lib.sh

[ "$LAB_BTVIRT" -ge 4 ] || lab_skip "needs lab --btvirt 4"
command -v gaitcap >/dev/null || lab_skip "gaitcap not built"
command -v gaitcap-test-insole >/dev/null || lab_skip "gaitcap-test-insole not built"

D=/tmp/ins
mkdir -p $D
addr() {
	lab_btmgmt -i "$1" info | sed -n 's/.*addr \([0-9A-F:]*\) .*/\1/p' | head -1
}
for i in 0 1 2 3; do
	lab_btmgmt -i $i power on >/dev/null
done
for i in 1 2; do
	lab_btmgmt -i $i connectable on >/dev/null
	lab_btmgmt -i $i advertising on >/dev/null
done
A0=$(addr 0)
A1=$(addr 1)
A2=$(addr 2)
A3=$(addr 3)
lab_check "four controllers with addresses ($A0 $A1 $A2 $A3)" \
	sh -c "[ -n '$A0' ] && [ -n '$A1' ] && [ -n '$A2' ] && [ -n '$A3' ]"

MAT=""
if [ -e /dev/gaitmat-virt ] && command -v gaitmat-sim >/dev/null; then
	gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 100 --duration 120 \
		--seed 31 --truth $D/truth.json --quiet &
	SIMPID=$!
	MAT="--wait 15"
else
	MAT="--mat none"
fi

# 500 notifications each, one every 20 ms (10 s): 1000 samples at 100 Hz.
gaitcap-test-insole serve --adapter "$A1" --side left --count 500 \
	--drop 100,101,470 --max-s 40 --linger-s 30 --log $D/left.log &
LPID=$!
gaitcap-test-insole serve --adapter "$A2" --side right --count 500 \
	--drop 50,300 --max-s 40 --linger-s 30 --log $D/right.log &
RPID=$!

# shellcheck disable=SC2086 # MAT is two words or none
gaitcap capture -o $D/s.gcs --subject LAB-01 --task walk $MAT --status 0 \
	--insole "left=$A1@$A0" --insole "right=$A2@$A3" \
	--insole-wait 30 --duration 20 --control none >$D/cap.log 2>&1 &
CAP=$!
# The link of the left insole is cut once it streams (about 4 s in).
n=0
while ! grep -q '^sent 200$' $D/left.log 2>/dev/null && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
lab_btmgmt -i 0 disconnect -t 1 "$A1" >$D/disc.out 2>&1
wait $CAP
rc=$?
wait $LPID $RPID
[ -n "${SIMPID:-}" ] && kill $SIMPID 2>/dev/null

for f in cap.log left.log right.log disc.out; do
	echo "# --- $f"
	tail -8 $D/$f | sed 's/^/# /'
done
lab_check "capture exits 0 (exit $rc)" sh -c "[ $rc = 0 ] || { cat $D/cap.log; false; }"
lab_check "the disconnect was made by the host" grep -qi "disconnected" $D/disc.out
lab_check "the left insole saw its link go and come back" \
	sh -c "[ \$(grep -c '^connected' $D/left.log) -ge 2 ] || cat $D/left.log | tail -5"
gaitcap info $D/s.gcs >$D/info 2>&1
lab_check "gaitcap info: closed, integrity OK" \
	sh -c "grep -q 'closed' $D/info && grep -q 'integrity   OK' $D/info || { cat $D/info; false; }"
lab_check "two ble_att streams, left and right" sh -c "[ \$(grep -c 'ble_att  insole-left' $D/info) = 1 ] &&
	[ \$(grep -c 'ble_att  insole-right' $D/info) = 1 ] || { cat $D/info; false; }"
if [ "$MAT" != "--mat none" ]; then
	lab_check "and the mat's iio_scan stream beside them" grep -q 'iio_scan mat0' $D/info
else
	lab_check_skip "and the mat's iio_scan stream beside them" "no /dev/gaitmat-virt"
fi
lab_check "left: every notification sent is there once, in order, gaps explain the rest" \
	gaitcap-test-insole check $D/s.gcs --side left --log $D/left.log
lab_check "left: the drops are device gaps, the outage a link gap" \
	sh -c "gaitcap-test-insole check $D/s.gcs --side left --log $D/left.log | tee /dev/stderr | grep -q 'device 2, link 1)'"
lab_check "right: every notification sent is there once, in order, gaps explain the rest" \
	gaitcap-test-insole check $D/s.gcs --side right --log $D/right.log
lab_check "right: its two drops are device gaps, its link never went" \
	sh -c "gaitcap-test-insole check $D/s.gcs --side right --log $D/right.log | tee /dev/stderr | grep -q 'device 2, link 0)'"
lab_check "the right insole kept its one link" \
	sh -c "[ \$(grep -c '^connected' $D/right.log) -eq 1 ] || tail -5 $D/right.log"
gaitcap info --json $D/s.gcs >$D/s.json 2>&1
lab_check "the stream description carries the insole's model, decoder and side" \
	sh -c "grep -q '\"decoder\":\"gaitcap-v1\"' $D/s.json && grep -q '\"model\":\"GI_T1__test_\"' $D/s.json &&
		grep -q '\"side\":\"left\"' $D/s.json && grep -q '\"battery_pct\":87' $D/s.json"
lab_check "the session lists both insoles as devices" \
	sh -c "grep -q '\"id\":\"insole-left\"' $D/s.json && grep -q '\"id\":\"insole-right\"' $D/s.json &&
		grep -q '\"kind\":\"ble_insole\"' $D/s.json"

# An insole that is not there: a clear error, no file.
gaitcap capture -o $D/none.gcs --subject LAB-01 --mat none --status 0 --control none \
	--adapter "$A0" --insole left=00:AA:01:09:00:09 --insole-wait 3 >$D/none.log 2>&1
rc=$?
lab_check "an insole never found: exit 2 and says so (exit $rc)" \
	sh -c "[ $rc = 2 ] && grep -q 'not found within' $D/none.log || { cat $D/none.log; false; }"
lab_done
