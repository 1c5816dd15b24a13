# SPDX-License-Identifier: GPL-2.0
# gaitcap devices on btvirt (lab --btvirt 4, --tool setpriv): two
# gaitinsole-sim insoles advertise, the left (gaitcap profile) on hci1, the
# right (FFF0 profile) on hci2, and a heart-rate strap (no insole) on hci3;
# a scan from hci0 through the kernel's mgmt discovery must list both
# insoles with address, type, decoder and name and nothing else (the strap
# only with --all); a stopped insole drops out; an insole that appears after
# the kernel ended its 10 s discovery is still found; Ctrl-C stops the
# discovery (a killed scan leaves it running: the next scan says so and
# uses it); a missing controller and a user without CAP_NET_ADMIN are exit
# 2 with the reason. TAP.
. /lab/lib.sh
[ "$LAB_BTVIRT" -ge 4 ] || lab_skip "needs lab --btvirt 4"
command -v gaitcap >/dev/null || lab_skip "gaitcap not built"
[ -x /usr/bin/setpriv ] || lab_skip "util-linux setpriv not in the guest (lab --tool)"
SIM=/opt/gaitcap/bin/gaitinsole-sim
W=/tmp/devices
mkdir -p $W

# devices OUT ARGS...: run gaitcap devices, stdout in OUT, stderr in
# OUT.err, both shown as comments; its exit status in $rc.
devices() {
	out=$1
	shift
	gaitcap devices "$@" >$out 2>$out.err
	rc=$?
	sed 's/^/# /' $out $out.err
}
# start_left: the left insole's simulator, advertising until stopped.
start_left() {
	rm -f $W/left.ready
	$SIM --hci 1 --side left --name GI-LEFT --duration 120 --exit-after 120 \
		--ready-file $W/left.ready 2>>$W/left.log &
	LPID=$!
}

lab_btmgmt -i 0 power on >/dev/null
# The strap: 16-bit service 0x180D, its name in the scan response.
lab_btmgmt -i 3 power on >/dev/null
lab_btmgmt -i 3 add-adv -c -g -d 03030d18 -s 090948522d5354524150 1 >$W/strap.log 2>&1
start_left
$SIM --hci 2 --side right --profile fff0 --name FFF-RIGHT --duration 120 \
	--exit-after 120 --ready-file $W/right.ready 2>$W/right.log &
RPID=$!
lab_check "left simulator advertising" lab_wait_for $W/left.ready 200
lab_check "right simulator advertising" lab_wait_for $W/right.ready 200
LADDR=$(cat $W/left.ready 2>/dev/null)
RADDR=$(cat $W/right.ready 2>/dev/null)
echo "# left $LADDR right $RADDR"
LEFT="^$LADDR +public +gaitcap-v1 +(-?[0-9]+|-) +GI-LEFT\$"
RIGHT="^$RADDR +public +fff0 +(-?[0-9]+|-) +FFF-RIGHT\$"

devices $W/out --hci 0 --timeout 6
lab_check "devices exits 0 (exit $rc)" test $rc = 0
lab_check "the header" grep -Eq "^ADDRESS +TYPE +DECODER +RSSI +NAME\$" $W/out
lab_check "the left insole: public, decoder gaitcap-v1, its name" grep -Eq "$LEFT" $W/out
lab_check "the right insole: public, decoder fff0, its name" grep -Eq "$RIGHT" $W/out
lab_check "nothing else: the header and two insoles" test "$(wc -l <$W/out)" = 3
lab_check "the count on stderr" grep -q "^gaitcap devices: 2 insoles on hci0 in 6 s\$" $W/out.err

devices $W/all --hci hci0 --timeout 4 --all
lab_check "--all: the strap too, with no decoder" sh -c "[ $rc = 0 ] &&
	grep -Eq '^([0-9A-F]{2}:){5}[0-9A-F]{2} +public +- +(-?[0-9]+|-) +HR-STRAP\$' $W/all &&
	grep -Eq '$LEFT' $W/all && grep -Eq '$RIGHT' $W/all &&
	[ \$(wc -l <$W/all) = 4 ] && grep -q '^gaitcap devices: 3 LE devices' $W/all.err"

# Ctrl-C ends the scan early, lists what was found and stops the discovery:
# the next scan starts its own at once.
# timeout runs it in the foreground: a background job ignores SIGINT.
t0=$(date +%s)
timeout -s INT 4 gaitcap devices --timeout 60 >$W/int 2>$W/int.err
rc=$?
t1=$(date +%s)
sed 's/^/# /' $W/int $W/int.err
lab_check "SIGINT after 4 s: exit 130 within 9 s (exit $rc, $((t1 - t0)) s)" \
	sh -c "[ $rc = 130 ] && [ $((t1 - t0)) -le 9 ]"
lab_check "SIGINT: what was found is listed" sh -c "
	grep -Eq '$LEFT' $W/int && grep -Eq '$RIGHT' $W/int &&
	grep -q '(interrupted)\$' $W/int.err"
devices $W/after --timeout 2
lab_check "after SIGINT the discovery was stopped: the next scan runs its own" \
	sh -c "[ $rc = 0 ] && ! grep -q 'another discovery' $W/after.err"
# A scan killed outright cannot stop it: the kernel's discovery runs on
# (10.24 s), the next scan says so, waits for its end and runs its own.
gaitcap devices --timeout 60 >/dev/null 2>&1 &
DPID=$!
sleep 3
kill -KILL $DPID
wait $DPID
devices $W/busy --timeout 12
lab_check "after SIGKILL the next scan waits for the running discovery" sh -c "[ $rc = 0 ] &&
	grep -q '^gaitcap devices: another discovery is running on hci0' $W/busy.err &&
	grep -Eq '$LEFT' $W/busy && grep -Eq '$RIGHT' $W/busy"

# The left insole stops advertising (its simulator is gone): one insole.
kill $LPID
wait $LPID
devices $W/out2 --hci 0 --timeout 4
lab_check "once the left is gone only the right is listed" sh -c "[ $rc = 0 ] &&
	! grep -q '^$LADDR' $W/out2 && grep -Eq '$RIGHT' $W/out2 &&
	[ \$(wc -l <$W/out2) = 2 ]"

# The kernel ends an LE discovery after 10.24 s; a longer scan starts
# another, so an insole switched on after that is found.
gaitcap devices --timeout 20 >$W/long 2>$W/long.err &
DPID=$!
sleep 13
start_left
lab_check "left simulator advertising again" lab_wait_for $W/left.ready 200
wait $DPID
rc=$?
sed 's/^/# /' $W/long $W/long.err
lab_check "a 20 s scan finds the insole switched on after 13 s" sh -c "[ $rc = 0 ] &&
	grep -Eq '$LEFT' $W/long && grep -Eq '$RIGHT' $W/long"

devices $W/none --hci 9 --timeout 1
lab_check "no hci9: exit 2 and the reason (exit $rc)" sh -c "[ $rc = 2 ] &&
	grep -qx 'gaitcap devices: cannot scan with hci9: no such controller' $W/none.err &&
	[ ! -s $W/none ]"
/usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups \
	gaitcap devices --timeout 1 >$W/user 2>$W/user.err
rc=$?
sed 's/^/# /' $W/user $W/user.err
lab_check "without CAP_NET_ADMIN: exit 2 and the reason (exit $rc)" sh -c "[ $rc = 2 ] &&
	grep -q 'cannot scan with hci0: no permission (needs CAP_NET_ADMIN' $W/user.err"
kill $LPID $RPID 2>/dev/null
wait $LPID $RPID
lab_done
