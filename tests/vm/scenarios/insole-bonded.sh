# SPDX-License-Identifier: GPL-2.0
# An insole that requires a bonded, encrypted link (docs/capture.md,
# "Encrypted insoles"): gaitinsole-sim --require-encryption on hci1 refuses
# the profile with ATT Insufficient Encryption until the link is encrypted;
# gaitcap on hci0 raises BT_SECURITY to MEDIUM, the kernel's SMP pairs (Just
# Works, both controllers bondable, NoInputNoOutput, no bluetoothd) and the
# capture streams. A forced disconnect and a second capture reuse the key
# the kernel kept: no second pairing (the simulator logs every User
# Confirmation Request and New Long Term Key the kernel sends it). With
# +plain (no security raise) the capture fails naming encryption. TAP.
. /lab/lib.sh

[ "$LAB_BTVIRT" -ge 2 ] || lab_skip "needs lab --btvirt 2"
for t in gaitcap gaitinsole-sim gaitinsole-simcheck; do
	command -v $t >/dev/null || lab_skip "$t not built"
done

D=/tmp/bond
mkdir -p $D
addr() {
	lab_btmgmt -i "$1" info | sed -n 's/.*addr \([0-9A-F:]*\) .*/\1/p' | head -1
}
lab_btmgmt -i 0 power on >/dev/null
# The central bonds too (bluetoothd would set this; here nothing does).
lab_btmgmt -i 0 bondable on >$D/bondable.out 2>&1
lab_btmgmt -i 0 io-cap 3 >>$D/bondable.out 2>&1
A0=$(addr 0)
A1=$(addr 1)
lab_check "two controllers with addresses ($A0 $A1)" \
	sh -c "[ -n '$A0' ] && [ -n '$A1' ]"

gaitinsole-sim --hci 1 --side left --require-encryption --truth $D/left.tsv \
	--ready-file $D/ready --exit-after 170 2>$D/sim.log &
SPID=$!
n=0
while [ ! -s $D/ready ] && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
A1=$(cat $D/ready 2>/dev/null || echo "$A1")
lab_check "the simulator advertises, bondable (hci1 $A1)" test -s $D/ready
pairings() { grep -c 'confirmed (Just Works)' $D/sim.log; }
ltks() { grep -c 'new-ltk' $D/sim.log; }
# sent N: data notifications the simulator sent so far.
sent() { grep -c '^notify	[0-9]*	sent' $D/left.tsv 2>/dev/null; }

# 1. First capture: pairing, then a forced disconnect mid-stream.
BTMON=""
if command -v btmon >/dev/null; then
	btmon >$D/btmon.txt 2>&1 &
	BTMON=$!
fi
gaitcap capture -o $D/s1.gcs --subject LAB-01 --task walk --mat none --status 0 \
	--insole "left=$A1@$A0" --insole-wait 30 --duration 16 --control none \
	>$D/cap1.log 2>&1 &
CAP=$!
n=0
while [ "$(sent)" -lt 150 ] && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
P1=$(pairings)
K1=$(ltks)
lab_btmgmt -i 0 disconnect -t 1 "$A1" >$D/disc.out 2>&1
wait $CAP
rc=$?
P2=$(pairings)
K2=$(ltks)
[ -n "$BTMON" ] && kill $BTMON
# The pairing as the HCI trace shows it (btmon, when the lab has it).
grep 'SMP: \|User Confirmation\|Encryption Change\|Long Term Key' $D/btmon.txt 2>/dev/null |
	sed 's/  */ /g; s/^/# btmon:/' | head -40
for f in bondable.out cap1.log disc.out sim.log; do
	echo "# --- $f"
	tail -8 $D/$f | sed 's/^/# /'
done
lab_check "capture 1 exits 0 (exit $rc)" sh -c "[ $rc = 0 ] || { cat $D/cap1.log; false; }"
lab_check "one pairing, keys distributed (pairings $P1, LTK events $K1)" \
	sh -c "[ '$P1' = 1 ] && [ '$K1' -ge 1 ]"
lab_check "the disconnect was made by the host" grep -qi "disconnected" $D/disc.out
lab_check "the insole saw its link go and come back" \
	sh -c "[ \$(grep -c '^link	accepted' $D/left.tsv) -ge 2 ]"
lab_check "the reconnection encrypted with the stored key: no new pairing ($P2), no new LTK ($K2)" \
	sh -c "[ '$P2' = '$P1' ] && [ '$K2' = '$K1' ]"
gaitcap info $D/s1.gcs >$D/info1 2>&1
gaitcap info --json $D/s1.gcs >$D/s1.json 2>&1
lab_check "session 1: closed, integrity OK, the insole's stream" \
	sh -c "grep -q 'integrity   OK' $D/info1 && grep -q 'ble_att  insole-left' $D/info1 || { cat $D/info1; false; }"
lab_check "the stream description says the link was encrypted" \
	grep -q '"security":"encrypted"' $D/s1.json
gaitinsole-simcheck $D/s1.gcs --side left --truth $D/left.tsv --min 100 >$D/check1 2>&1
crc=$?
sed 's/^/# /' $D/check1 | tail -6
lab_check "every notification sent is there once, in order (simcheck exit $crc)" \
	sh -c "[ $crc = 0 ]"

# 2. The capture restarts (the link dropped in between): the kernel's key.
lab_btmgmt -i 0 disconnect -t 1 "$A1" >/dev/null 2>&1
sleep 1
gaitcap capture -o $D/s2.gcs --subject LAB-01 --task walk --mat none --status 0 \
	--insole "left=$A1@$A0" --insole-wait 30 --duration 5 --control none \
	>$D/cap2.log 2>&1
rc=$?
P3=$(pairings)
K3=$(ltks)
gaitcap info --json $D/s2.gcs >$D/s2.json 2>&1
lab_check "capture 2 exits 0, encrypted (exit $rc)" \
	sh -c "[ $rc = 0 ] && grep -q '\"security\":\"encrypted\"' $D/s2.json || { cat $D/cap2.log; false; }"
lab_check "capture 2 did not pair again (pairings $P3, LTK events $K3)" \
	sh -c "[ '$P3' = '$P1' ] && [ '$K3' = '$K1' ]"

# 3. Without the security raise the insole refuses: a clear error. The
# simulator must have seen capture 2's link go and be advertising again
# (a loaded guest takes more than a second to tear the link down).
lab_btmgmt -i 0 disconnect -t 1 "$A1" >/dev/null 2>&1
links() { grep -c "link from" $D/sim.log; }
gone() { grep -Ec "link to .* (closed|dropped)" $D/sim.log; }
n=0
while [ "$(gone)" -lt "$(links)" ] && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
gaitcap capture -o $D/plain.gcs --subject LAB-01 --mat none --status 0 --control none \
	--insole "left=$A1+plain@$A0" --insole-wait 15 >$D/plain.log 2>&1
rc=$?
sed 's/^/# /' $D/plain.log | tail -3
lab_check "+plain: exit 2, the error names the encryption the insole requires (exit $rc)" \
	sh -c "[ $rc = 2 ] && grep -q 'requires an encrypted link' $D/plain.log || { cat $D/plain.log; tail -6 $D/sim.log; false; }"
kill -TERM $SPID 2>/dev/null
wait $SPID 2>/dev/null
lab_done
