# SPDX-License-Identifier: GPL-2.0
# gaitcap-latency on the whole insole chain (docs/latency.md): kprobes on
# the kernel's Bluetooth receive path (hci_recv_frame, l2cap_recv_acldata,
# the socket queue), io_uring's completion tracepoint and the capture's
# USDT probes, while gaitcap captures an insole over btvirt (hci0 the
# appliance, hci1 the left insole: gaitcap-test-insole, the peripheral
# capture-insoles uses; gaitinsole-sim's session is refused by the privacy
# policy today, docs/latency.md). Every notification in the session file
# must be counted in every insole stage and the oracle must find every one
# it sent; a filter on another stream must see nothing. Twice: with
# --watermark 1 (a chunk per notification, committed at once: commit p50
# under 1 ms) and the default batches. Prints TAP, and the percentiles as
# comments.
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

# commit_probe FILE STREAM RECORDS: the -C instance, notes from msg_commit.
commit_probe() {
	grep -q '"msg_commits":"usdt"' "$1" || { echo "msg_commits not usdt"; return 1; }
	f=$(jfield "$1" "$2" frames)
	[ "$f" = "$3" ] || { echo "frames ${f:-none}, want $3"; return 1; }
	every_stage "$1" "$2" "$3"
}

# per_msg_probes FILE STREAM RECORDS: the -M instance, without notes.
per_msg_probes() {
	grep -q '"msg_notes":false' "$1" || { echo "msg_notes not false"; return 1; }
	m=$(jfield "$1" "$2" messages)
	[ "$m" = "$3" ] || { echo "messages ${m:-none}, want $3"; return 1; }
	every_stage "$1" "$2" "$3"
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
# Both modes: --watermark 1 commits each notification on its own as it
# arrives, the default stages batches (50 ms / 64 KiB). Per mode, 400
# notifications, one every 20 ms (8 s), 5 samples each.
for mode in w1 dflt; do
	wm=""
	[ $mode = w1 ] && wm="--watermark 1"
	gaitcap-test-insole serve --adapter "$A1" --side left --count 400 \
		--max-s 40 --linger-s 20 --log $D/$mode-left.log &
	SPID=$!
	gaitcap-latency -j >$D/$mode.json 2>$D/$mode.err &
	T=$!
	gaitcap-latency -j -s 7 >$D/$mode-other.json 2>$D/$mode-other.err &
	T2=$!
	# The fallback: a probe per message instead of gaitcap's notes.
	gaitcap-latency -j -M >$D/$mode-m.json 2>$D/$mode-m.err &
	T3=$!
	# Notes from a trap at each commit instead of read by the tool.
	gaitcap-latency -j -C >$D/$mode-c.json 2>$D/$mode-c.err &
	T4=$!
	lab_check "$mode: gaitcap-latency attaches" wait_banner $D/$mode.err
	wait_banner $D/$mode-other.err
	wait_banner $D/$mode-m.err
	wait_banner $D/$mode-c.err
	gaitcap capture -o $D/$mode.gcs --subject LAB-01 --mat none --status 0 --quiet \
		--control none --adapter "$A0" --insole "left=$A1" --insole-wait 30 \
		--duration 12 $wm >$D/$mode-cap.log 2>&1
	rc=$?
	kill -INT $T $T2 $T3 $T4
	wait $T $T2 $T3 $T4
	wait $SPID

	lab_check "$mode: the capture exits 0" sh -c "[ $rc = 0 ] || { cat $D/$mode-cap.log; false; }"
	gaitcap info $D/$mode.gcs >$D/$mode.info 2>&1
	sed "s/^/# $mode /" $D/$mode.info | grep ble_att
	set -- $(sed -n 's/^ *\([0-9]*\) ble_att .* \([0-9]*\) records in \([0-9]*\) chunks.*/\1 \2 \3/p' \
		$D/$mode.info | head -n1)
	S=${1:-none}
	R=${2:-0}
	C=${3:-0}
	lab_check "$mode: one insole stream with notifications ($R)" test "$R" -gt 100
	lab_check "$mode: the oracle finds every notification sent, once, in order" \
		gaitcap-test-insole check $D/$mode.gcs --side left --log $D/$mode-left.log
	lab_check "$mode: kprobes on the HCI core, L2CAP and the socket queue; the message probes" \
		grep -Eq '"hci_recv":"kprobe:hci_recv_frame","l2cap_recv":"kprobe:l2cap_recv_acldata","sock_queue":"kprobe:[a-z_]*","usdt_msgs":true,"msg_notes":true' $D/$mode.json
	lab_check "$mode: io_uring through a tracepoint" \
		grep -Eq '"io_uring_complete":"(tp_btf|raw_tp|tp)"' $D/$mode.json
	f=$(jfield $D/$mode.json "$S" frames)
	lab_check "$mode: notifications committed as the file says (${f:-?} of $R)" test "$f" = "$R"
	lab_check "$mode: every notification announced by the capture" \
		test "$(jfield $D/$mode.json "$S" messages)" = "$R"
	lab_check "$mode: every notification seen at the HCI core and on the socket" \
		test "$(jfield $D/$mode.json "$S" hci_messages)" = "$R"
	lab_check "$mode: acl, queue, reap, commit and ble_path count every notification" \
		every_stage $D/$mode.json "$S" "$R"
	lab_check "$mode: the notes are read by the tool (no trap per commit)" \
		grep -q '"msg_commits":"polled"' $D/$mode.json
	lab_check "$mode: the same from a trap per commit (-C: msg_commit)" \
		commit_probe $D/$mode-c.json "$S" "$R"
	lab_check "$mode: the same with a probe per message (-M: msg_record, no notes)" \
		per_msg_probes $D/$mode-m.json "$S" "$R"
	lab_check "$mode: no mat stage on an insole stream" \
		sh -c "! grep -Eq '\"(wire|hold|read|path)\":' $D/$mode.json"
	lab_check "$mode: -s 7 (no such stream): nothing counted" \
		grep -q '"streams":\[\]' $D/$mode-other.json
	for st in $STAGES; do
		echo "# $mode $st p50 $(jfield $D/$mode.json "$S" $st p50_ns) p99 $(jfield $D/$mode.json "$S" $st p99_ns)" \
			"p99.9 $(jfield $D/$mode.json "$S" $st p99_9_ns) max $(jfield $D/$mode.json "$S" $st max_ns) ns" \
			"count $(jfield $D/$mode.json "$S" $st count)"
	done
	e=$(jfield $D/$mode.json "$S" early)
	echo "# $mode early $e, $C chunks"
	eval "R_$mode=$R C_$mode=$C E_$mode=${e:-0} S_$mode=$S"
done
# One chunk per notification (those received before the channel existed
# are stored together, as one chunk, by the source).
lab_check "--watermark 1: a chunk per notification ($C_w1 chunks, $R_w1 notifications, $E_w1 early)" \
	sh -c "[ $C_w1 -ge $((R_w1 - E_w1)) ] && [ $C_w1 -le $((R_w1 - E_w1 + 1)) ]"
lab_check "default: batches ($C_dflt chunks for $R_dflt notifications)" \
	test "$C_dflt" -lt $((R_dflt / 2))
# Committed as soon as received: no staging in the commit stage (before,
# --watermark 1 changed nothing for insoles: commit p50 about 30 ms).
c1=$(jfield $D/w1.json "$S_w1" commit p50_ns)
c2=$(jfield $D/dflt.json "$S_dflt" commit p50_ns)
lab_check "--watermark 1: commit p50 under 1 ms (${c1:-?} ns)" test "${c1:-999999999}" -lt 1000000
lab_check "the default stages: its commit p50 (${c2:-?} ns) is longer than with --watermark 1" \
	test "${c2:-0}" -gt "${c1:-999999999}"
lab_done
