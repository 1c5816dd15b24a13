# SPDX-License-Identifier: GPL-2.0
# The lab half of `make demo` (scripts/demo.sh), and VM suite demo-ble: one
# simulated subject walks back and forth over a 4-tile mat wearing two BLE
# insoles. gaitmat-sim plays the mat through /dev/gaitmat-virt, and one
# `gaitcap capture` records it and two gaitinsole-sim insoles on btvirt
# controllers hci1 and hci2, each reached through its own central (hci0,
# hci3: btvirt 5.66 forwards ACL packets with the sender's handle,
# docs/capture.md "Insoles"). The insoles walk the same walk (the same
# walking model, seed and length), with their walk time 0 set to the mat's:
# the mat's walk starts at its first scan, which the capture's START asks
# for, so the insoles are started once that scan is in the (live) session.
# The right insole is told to drop two notifications: the only gap the
# session may have. Then gaitcap info, and the oracles: every mat scan
# against the emulator's walk (gaitmat-simcheck), every insole notification
# against the simulators' ground truth (gaitinsole-simcheck). With --disk
# the session and the truths are copied to the disk for the host
# (scripts/demo.sh reads them back with debugfs). Then the simulators'
# truths must list one walk, and refine and QC of the captured session must
# find the same footfalls on the mat and the insoles.
# Argument: the capture's length in seconds (default 20). TAP.
. /lab/lib.sh

[ "$LAB_BTVIRT" -ge 4 ] || lab_skip "needs lab --btvirt 4"
for t in gaitcap gaitmat-sim gaitinsole-sim gaitmat-simcheck gaitinsole-simcheck; do
	command -v $t >/dev/null || lab_skip "$t not built"
done
D=/tmp/demo
mkdir -p $D
SEED=${DEMO_SEED:-7}
SECS=${1:-20}
# The walk outlasts the capture: the subject is still walking when it ends.
WALK="--tiles 4 --duration 60 --seed $SEED"
DROP=300

addr() {
	lab_btmgmt -i "$1" info | sed -n 's/.*addr \([0-9A-F:]*\) .*/\1/p' | head -1
}
for i in 0 1 2 3; do
	lab_btmgmt -i $i power on >/dev/null
done
A0=$(addr 0)
A3=$(addr 3)

# one_walk MAT_JSON TSV...: every contact the insoles' truths list is the
# mat emulator's footfall of that index (side, IC and TO walk times): both
# simulators walked one walk. (json-c pretty-prints one key a line.)
one_walk() {
	awk '
	FNR == 1 { file++ }
	file == 1 && /"footfalls"/ { f = 1 }
	file == 1 && f && /"index"/ { v = $2; gsub(/[^0-9]/, "", v); i = v; w = "" }
	file == 1 && f && /"side"/ { v = $2; gsub(/[^a-z]/, "", v); side[i] = v }
	file == 1 && f && /"ic": *[{]/ { w = "ic" }
	file == 1 && f && /"to": *[{]/ { w = "to" }
	file == 1 && f && /"walk_us"/ && w != "" {
		v = $2; gsub(/[^0-9]/, "", v)
		if (w == "ic") ic[i] = v; else to[i] = v
		w = ""
	}
	file > 1 {
		split($0, c, "\t")
		if (c[1] == "run" && c[2] == "side") fs = c[3]
		if (c[1] != "contact") next
		k++; per[fs]++
		if (side[c[2]] != fs || ic[c[2]] != c[3] || to[c[2]] != c[4]) {
			if (bad++ < 5)
				printf "%s contact %s (IC %s, TO %s us) is not the mat footfall %s (%s, IC %s, TO %s)\n", fs, c[2], c[3], c[4], c[2], side[c[2]], ic[c[2]], to[c[2]]
		}
	}
	END {
		printf "%d insole contacts (left %d, right %d), %d not the mat emulator'"'"'s footfall\n", k, per["left"], per["right"], bad
		exit !(per["left"] >= 10 && per["right"] >= 10 && !bad)
	}' "$@"
}

echo "== gaitmat-sim: a normal walk back and forth over 4 tiles at 100 Hz (seed $SEED)"
gaitmat-sim --out /dev/gaitmat-virt $WALK --rate 100 --truth $D/mat.json --quiet &
MPID=$!
lab_check "the mat is there" sh -c "
	n=0
	while ! grep -qx gaitmat /sys/bus/iio/devices/iio:device*/name 2>/dev/null; do
		[ \$n -ge 300 ] && exit 1
		sleep 0.1
		n=\$((n + 1))
	done"
A1=$(addr 1)
A2=$(addr 2)
# mat_t0 FILE: the mat's walk time 0 on CLOCK_MONOTONIC from the session's
# (live) mat stream: the walk starts at scan 0 and scan k is taken k x 10 ms
# later (100 Hz), so the last scan's kernel timestamp less last_seq x 10 ms.
# Its first scans queue behind the controller's announcement (their stamps
# come late), so this is read once the stream is steady.
mat_t0() {
	gaitcap info --json --quick "$1" 2>/dev/null | awk -F'[:,]' '
		/"kind": *"iio_scan"/ { m = 1 }
		m && /"records"/ && $2 + 0 < 100 { exit }
		m && /"last_seq"/ { s = $2 }
		m && /"t_last_ns"/ { printf "%.0f", $2 - s * 1e7; exit }'
}

echo "== gaitcap capture: the mat and both insoles, $SECS s"
gaitcap capture -o $D/walk.gcs --subject DEMO-001 --task walk_back_and_forth \
	--wait 15 --insole "left=$A1@$A0" --insole "right=$A2@$A3" --insole-wait 30 \
	--duration "$SECS" --status 5 --control none >$D/cap.log 2>&1 &
CAP=$!
# The insoles walk from the mat's walk time 0: one walk, one timeline. The
# least delayed of a few readings (delays only ever make a stamp later).
T=""
n=0
k=0
while [ $k -lt 5 ] && [ $n -lt 150 ]; do
	sleep 0.3
	n=$((n + 1))
	t=$(mat_t0 $D/walk.gcs)
	[ -n "$t" ] || continue
	k=$((k + 1))
	{ [ -z "$T" ] || [ "$t" -lt "$T" ]; } && T=$t
done
lab_check "the mat streams into the session" test -n "$T"
echo "== gaitinsole-sim: the same walk on the left (hci1) and right (hci2) insoles," \
	"100 Hz, 5 samples a notification; the right drops notifications $DROP and $((DROP + 1))"
gaitinsole-sim --hci 1 --side left $WALK --walk-start "$T" --truth $D/left.tsv \
	--exit-after 150 2>$D/left.log &
LPID=$!
gaitinsole-sim --hci 2 --side right $WALK --walk-start "$T" --truth $D/right.tsv \
	--fault drop:2,at=$DROP --exit-after 150 2>$D/right.log &
RPID=$!
wait $CAP
rc=$?
sed -n 's/^gaitcap capture: //p' $D/cap.log | grep -v '^recording' | sed 's/^/   /'
kill -TERM $MPID $LPID $RPID 2>/dev/null
wait $MPID $LPID $RPID 2>/dev/null
lab_check "capture exits 0 (exit $rc)" sh -c "[ $rc = 0 ] || { tail -20 $D/cap.log; false; }"

echo "== gaitcap info"
gaitcap info $D/walk.gcs | tee $D/info
lab_check "closed, integrity OK" sh -c "grep -q '^format .*closed' $D/info && grep -q '^integrity   OK' $D/info"
lab_check "three streams: the mat and the two insoles" sh -c "
	grep -q '^streams     3$' $D/info &&
	grep -q '^  [0-9] iio_scan mat0 ' $D/info &&
	grep -q '^  [0-9] ble_att  insole-left ' $D/info &&
	grep -q '^  [0-9] ble_att  insole-right ' $D/info"
lab_check "each stream with its device clock" sh -c "
	[ \$(grep -c '^  [012] [a-z0-9-]* *device clock ' $D/info) = 3 ]"
lab_check "no unexplained jump" sh -c "! grep -q '[1-9][0-9]* unexplained' $D/info"
M=$(sed -n 's/^  \([0-9]\) iio_scan mat0 .*/\1/p' $D/info)
L=$(sed -n 's/^  \([0-9]\) ble_att  insole-left .*/\1/p' $D/info)
R=$(sed -n 's/^  \([0-9]\) ble_att  insole-right .*/\1/p' $D/info)
lab_check "the right insole's two drops: a device gap, seq $DROP..$((DROP + 1))" \
	grep -q "^  stream $R, device_overflow, seq $DROP\.\.$((DROP + 1)), " $D/info
lab_check "no gap on the left insole" sh -c "! grep -q '^  stream $L, ' $D/info"

echo "== every mat scan against the emulator's walk"
gaitmat-simcheck --truth $D/mat.json $WALK --min-scans $((SECS * 80)) \
	$D/walk.gcs >$D/matcheck 2>&1
mrc=$?
tail -3 $D/matcheck | sed 's/^/   /'
lab_check "mat: every scan as the emulator sent it" sh -c "[ $mrc = 0 ]"
# A loaded guest paces the emulator late, and a scan that then misses its
# slot on the emulated line is dropped by the controller (its link budget,
# docs/simulator.md): those, and only those, may be missing.
budget=$(sed -n 's/.*"budget_drops": *\([0-9]*\).*/\1/p' $D/mat.json)
lost=$(sed -n "s/^  $M iio_scan mat0 .* gaps [0-9]* (\([0-9]*\) records).*/\1/p" $D/info)
lab_check "mat: missing only the scans its controller dropped ($lost lost, ${budget:-?} dropped)" \
	sh -c "[ -n '$lost' ] && [ '$lost' = '$budget' ]"
echo "== every insole notification against the simulators' ground truth"
for s in left right; do
	gaitinsole-simcheck $D/walk.gcs --side $s --truth $D/$s.tsv \
		--min $((SECS * 10)) >$D/$s.check 2>&1
	echo "$?" >$D/$s.rc
	sed 's/^/   /' $D/$s.check
done
lab_check "left: every notification sent is there once, in order, no gap" sh -c "
	[ \$(cat $D/left.rc) = 0 ] && grep -q ' 0 gaps ' $D/left.check"
lab_check "right: the same, its two drops in the one gap" sh -c "
	[ \$(cat $D/right.rc) = 0 ] && grep -q ' 2 never sent (inside gaps)' $D/right.check &&
	grep -q ' 1 gaps (0 the simulator' $D/right.check"

echo "== gaitcap refine and qc of the captured session"
gaitcap refine $D/walk.gcs -o $D/refined >$D/refine.log 2>&1
frc=$?
sed 's/^/   /' $D/refine.log
lab_check "refine reads the captured session (exit $frc)" test $frc = 0
gaitcap qc $D/refined --json $D/qc.json >$D/qc.log 2>&1
qrc=$?
grep -E 'insole_mat_agreement|valid_strides|^qc:' $D/qc.log | sed 's/^/   /'
lab_check "qc gives a verdict (exit $qrc: 0 pass, 2 warn, 3 fail)" \
	sh -c "[ $qrc = 0 ] || [ $qrc = 2 ] || [ $qrc = 3 ]"
lab_check "one walk: the insoles' contacts are the mat emulator's footfalls" \
	one_walk $D/mat.json $D/left.tsv $D/right.tsv
one_walk $D/mat.json $D/left.tsv $D/right.tsv | tail -1 | sed 's/^/   /'
# The spread of mat minus insole contact times is the mat's stamps' (its
# emulator is paced in a busy one-CPU guest): a figure, not a pass mark.
lab_check "refine matched the mat's and the insoles' contacts (insole_mat_agreement computed)" \
	grep -Eq '^(pass|warn|fail)  insole_mat_agreement' $D/qc.log
if [ "${LAB_DISK:-0}" = 1 ]; then
	cp $D/walk.gcs $D/mat.json $D/left.tsv $D/right.tsv \
		"$LAB_DISK_DIR"/ && sync
	lab_check "session and ground truths copied to the disk" test -s "$LAB_DISK_DIR/walk.gcs"
fi
lab_done
