# SPDX-License-Identifier: GPL-2.0
# In the lab guest (tests/bench/run-latency-insole-bench, lab --btvirt 2):
# gaitcap captures gaitcap-test-insole (hci1, a notification every 20 ms)
# from hci0 with gaitcap-latency attached, ROUNDS times. Prints one
# LATINS line per capture (notifications in the file, counted by the tool)
# and LATINSSTAGE lines with the tool's percentiles. Arguments: SECONDS ROUNDS.
SECS=${1:-10}
ROUNDS=${2:-3}
D=/tmp/latins
mkdir -p $D

bt() {
	btmgmt "$@" </dev/console
}
addr() {
	bt -i "$1" info | sed -n 's/.*addr \([0-9A-F:]*\) .*/\1/p' | head -1
}
jstage() {	# FILE STAGE NAME
	sed -n "s/.*\"$2\":{\([^}]*\)}.*/\1/p" "$1" | sed -n "s/.*\"$3\":\([0-9]*\).*/\1/p" | head -n1
}
jtop() {	# FILE NAME
	sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1" | head -n1
}

bt -i 0 power on >/dev/null
bt -i 1 power on >/dev/null
bt -i 1 connectable on >/dev/null
bt -i 1 advertising on >/dev/null
A0=$(addr 0)
A1=$(addr 1)
r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	gaitcap-test-insole serve --adapter "$A1" --side left --count $((SECS * 50 + 100)) \
		--max-s $((SECS + 30)) --linger-s 5 --log $D/left-$r.log &
	S=$!
	gaitcap-latency -j >$D/t.json 2>$D/t.err &
	T=$!
	n=0
	while ! grep -q '^Tracing' $D/t.err && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
	gaitcap capture -o $D/s-$r.gcs --subject LAB-01 --mat none --status 0 --quiet \
		--control none --adapter "$A0" --insole "left=$A1" --insole-wait 30 \
		--duration "$SECS" >$D/cap-$r.log 2>&1
	rc=$?
	kill -INT $T
	wait $T
	kill -TERM $S 2>/dev/null
	wait $S
	recs=$(gaitcap info $D/s-$r.gcs | sed -n 's/.* ble_att .* \([0-9]*\) records in .*/\1/p' | head -n1)
	echo "LATINS round=$r rc=$rc records=${recs:-0} frames=$(jtop $D/t.json frames)" \
		"hci=$(jtop $D/t.json hci_messages) early=$(jtop $D/t.json early)"
	for st in acl queue reap commit ble_path; do
		echo "LATINSSTAGE round=$r stage=$st count=$(jstage $D/t.json $st count)" \
			"p50=$(jstage $D/t.json $st p50_ns) p99=$(jstage $D/t.json $st p99_ns)" \
			"p999=$(jstage $D/t.json $st p99_9_ns) max=$(jstage $D/t.json $st max_ns)"
	done
	rm -f $D/s-$r.gcs
done
echo "LATINSDONE"
