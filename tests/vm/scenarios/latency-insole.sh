# SPDX-License-Identifier: GPL-2.0
# gaitcap-latency on the whole insole chain (docs/latency.md): kprobes on
# the kernel's Bluetooth receive path (hci_recv_frame, l2cap_recv_acldata,
# the socket queue), io_uring's completion tracepoint and the capture's
# USDT probes, while gaitcap captures an insole over btvirt (hci0 the
# appliance, hci1 the left insole: gaitcap-test-insole, the peripheral
# capture-insoles uses; gaitinsole-sim's session is refused by the privacy
# policy today, docs/latency.md). Every notification in the session file
# must be counted in every insole stage and the oracle must find every one
# it sent; a filter on another stream must see nothing. Prints TAP, and the
# percentiles as comments.
. /lab/lib.sh

[ "$LAB_BTVIRT" -ge 2 ] || lab_skip "needs lab --btvirt 2"
command -v gaitcap-latency >/dev/null || lab_skip "gaitcap-latency not built"
command -v gaitcap-test-insole >/dev/null || lab_skip "gaitcap-test-insole not built"

D=/tmp/latins
mkdir -p $D
STAGES="acl queue reap commit ble_path"

# jfield FILE STREAM [STAGE] NAME: a number out of the tool's JSON line.
jfield() {
	line=$(sed 's/},{"stream"/}\n{"stream"/g' "$1" | grep "\"stream\":$2," | head -n1)
	if [ $# = 4 ]; then
		line=$(printf '%s' "$line" | sed -n "s/.*\"$3\":{\([^}]*\)}.*/\1/p")
		name=$4
	else
		name=$3
	fi
	printf '%s' "$line" | sed -n "s/.*\"$name\":\([0-9]*\).*/\1/p" | head -n1
}
wait_banner() {
	n=0
	while ! grep -q '^Tracing gaitcap' "$1" 2>/dev/null; do
		[ $n -ge 200 ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
}
# every_stage FILE STREAM RECORDS: acl and ble_path count every notification;
# queue, reap and commit every one but those received before the channel.
every_stage() {
	e=$(jfield "$1" "$2" early)
	for st in acl ble_path; do
		c=$(jfield "$1" "$2" $st count)
		[ "$c" = "$3" ] || { echo "stage $st: count ${c:-none}, want $3"; return 1; }
	done
	for st in queue reap commit; do
		c=$(jfield "$1" "$2" $st count)
		[ -n "$c" ] && [ $((c + ${e:-0})) = "$3" ] ||
			{ echo "stage $st: count ${c:-none} + early ${e:-?}, want $3"; return 1; }
	done
}

addr() {
	lab_btmgmt -i "$1" info | sed -n 's/.*addr \([0-9A-F:]*\) .*/\1/p' | head -1
}
lab_btmgmt -i 0 power on >/dev/null
lab_btmgmt -i 1 power on >/dev/null
lab_btmgmt -i 1 connectable on >/dev/null
lab_btmgmt -i 1 advertising on >/dev/null
A0=$(addr 0)
A1=$(addr 1)
lab_check "two controllers with addresses ($A0 $A1)" \
	sh -c "[ -n '$A0' ] && [ -n '$A1' ]"
# 400 notifications, one every 20 ms (8 s), 5 samples each.
gaitcap-test-insole serve --adapter "$A1" --side left --count 400 \
	--max-s 40 --linger-s 20 --log $D/left.log &
SPID=$!

gaitcap-latency -j >$D/all.json 2>$D/all.err &
T=$!
gaitcap-latency -j -s 7 >$D/other.json 2>$D/other.err &
T2=$!
lab_check "gaitcap-latency attaches" wait_banner $D/all.err
wait_banner $D/other.err
gaitcap capture -o $D/s.gcs --subject LAB-01 --mat none --status 0 --quiet \
	--control none --adapter "$A0" --insole "left=$A1" --insole-wait 30 \
	--duration 12 >$D/cap.log 2>&1
rc=$?
kill -INT $T $T2
wait $T $T2
wait $SPID

lab_check "the capture exits 0" sh -c "[ $rc = 0 ] || { cat $D/cap.log; false; }"
gaitcap info $D/s.gcs >$D/info 2>&1
sed 's/^/# /' $D/info | grep ble_att
set -- $(sed -n 's/^ *\([0-9]*\) ble_att .* \([0-9]*\) records in .*/\1 \2/p' $D/info | head -n1)
S=${1:-none}
R=${2:-0}
lab_check "one insole stream with notifications ($R)" test "$R" -gt 100
lab_check "the oracle finds every notification sent, once, in order" \
	gaitcap-test-insole check $D/s.gcs --side left --log $D/left.log
lab_check "kprobes on the HCI core, L2CAP and the socket queue; the message probes" \
	grep -Eq '"hci_recv":"kprobe:hci_recv_frame","l2cap_recv":"kprobe:l2cap_recv_acldata","sock_queue":"kprobe:[a-z_]*","usdt_msgs":true' $D/all.json
lab_check "io_uring through a tracepoint" \
	grep -Eq '"io_uring_complete":"(tp_btf|raw_tp|tp)"' $D/all.json
f=$(jfield $D/all.json "$S" frames)
lab_check "notifications committed as the file says (${f:-?} of $R)" test "$f" = "$R"
lab_check "every notification announced by the capture" \
	test "$(jfield $D/all.json "$S" messages)" = "$R"
lab_check "every notification seen at the HCI core and on the socket" \
	test "$(jfield $D/all.json "$S" hci_messages)" = "$R"
lab_check "acl, queue, reap, commit and ble_path count every notification" \
	every_stage $D/all.json "$S" "$R"
lab_check "no mat stage on an insole stream" \
	sh -c "! grep -Eq '\"(wire|hold|read|path)\":' $D/all.json"
lab_check "-s 7 (no such stream): nothing counted" \
	grep -q '"streams":\[\]' $D/other.json
for st in $STAGES; do
	echo "# $st p50 $(jfield $D/all.json "$S" $st p50_ns) p99 $(jfield $D/all.json "$S" $st p99_ns)" \
		"p99.9 $(jfield $D/all.json "$S" $st p99_9_ns) max $(jfield $D/all.json "$S" $st max_ns) ns" \
		"count $(jfield $D/all.json "$S" $st count)"
done
echo "# early $(jfield $D/all.json "$S" early)"
lab_done
