# SPDX-License-Identifier: GPL-2.0
# gaitcap beside a running bluetoothd (docs/capture.md, "bluetoothd beside
# the capture"): a system D-Bus and BlueZ's own bluetoothd manage the btvirt
# controllers while `gaitcap capture --insole` owns the insole's ATT channel
# through its L2CAP socket. bluetoothd must neither take the link (its ATT
# server socket, its GATT client, LE auto-connect) nor break it: every
# notification arrives once, on one connection, and the link goes when
# gaitcap closes its socket. bluetoothctl keeps working (lists, scans)
# while the capture runs. Needs lab --btvirt 3 and the tools dbus-daemon,
# bluetoothd, bluetoothctl (tests/vm/Makefile). Prints TAP.
. /lab/lib.sh

[ "$LAB_BTVIRT" -ge 2 ] || lab_skip "needs lab --btvirt 2"
for t in gaitcap gaitcap-test-insole dbus-daemon bluetoothctl; do
	command -v $t >/dev/null || lab_skip "$t not in the guest"
done
BTD=/usr/libexec/bluetooth/bluetoothd
[ -x $BTD ] || lab_skip "bluetoothd not in the guest"

D=/tmp/coex
mkdir -p $D /run/dbus /var/lib/bluetooth /etc
[ -s /etc/machine-id ] || echo 6761697463617063616f657862746431 >/etc/machine-id
# The system bus, as Debian's system.conf would give it, minus the user
# switch (the lab guest has no messagebus user): everything allowed.
cat >$D/bus.conf <<'CONF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file=$D/bus.conf --nofork --nopidfile >$D/dbus.log 2>&1 &
DBUS=$!
lab_wait_for /run/dbus/system_bus_socket 50
$BTD -n >$D/btd.log 2>&1 &
BTDPID=$!

addr() {
	lab_btmgmt -i "$1" info | sed -n 's/.*addr \([0-9A-F:]*\) .*/\1/p' | head -1
}
# bluetoothd powers the controllers itself (AutoEnable); the insole's
# controller is then made to advertise as in capture-insoles.
n=0
until [ "$(bluetoothctl list </dev/null 2>/dev/null | grep -c '^Controller')" -ge 2 ] || [ $n -ge 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
bluetoothctl list </dev/null >$D/list0 2>&1
lab_check "bluetoothd is up on the system bus and lists the btvirt controllers" \
	sh -c "[ \$(grep -c '^Controller' $D/list0) -ge 2 ] || { cat $D/list0 $D/btd.log $D/dbus.log; false; }"
for i in 0 1; do
	lab_btmgmt -i $i power on >/dev/null
done
lab_btmgmt -i 1 connectable on >/dev/null
lab_btmgmt -i 1 advertising on >/dev/null
A0=$(addr 0)
A1=$(addr 1)

# 500 notifications, one every 20 ms: 10 s of streaming.
gaitcap-test-insole serve --adapter "$A1" --side left --count 500 \
	--max-s 40 --linger-s 20 --log $D/left.log &
LPID=$!
gaitcap capture -o $D/s.gcs --subject LAB-01 --task walk --mat none --status 0 \
	--adapter "$A0" --insole "left=$A1" \
	--insole-wait 30 --duration 16 --control none >$D/cap.log 2>&1 &
CAP=$!
# While gaitcap streams: bluetoothd's own clients still work on the same
# controller, including a discovery (what pairing a new device starts with).
n=0
while ! grep -q '^sent 100$' $D/left.log 2>/dev/null && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
bluetoothctl list </dev/null >$D/list1 2>&1
bluetoothctl --timeout 4 scan on </dev/null >$D/scan 2>&1
bluetoothctl devices </dev/null >$D/devices 2>&1
bluetoothctl info "$A1" </dev/null >$D/info1 2>&1
lab_btmgmt -i 0 con >$D/con1 2>&1
wait $CAP
rc=$?
# gaitcap closed its socket: with no other ATT user the kernel drops the
# idle link within its disconnect timeout (a few seconds).
n=0
while lab_btmgmt -i 0 con 2>/dev/null | grep -q "$A1" && [ $n -lt 15 ]; do
	sleep 1
	n=$((n + 1))
done
lab_btmgmt -i 0 con >$D/con2 2>&1
sleep 2
lab_btmgmt -i 0 con >$D/con3 2>&1
wait $LPID

for f in cap.log left.log list1 scan devices info1 con1 con2 con3 btd.log; do
	echo "# --- $f"
	tail -8 $D/$f | sed 's/^/# /'
done
lab_check "capture exits 0 with bluetoothd running (exit $rc)" \
	sh -c "[ $rc = 0 ] || { cat $D/cap.log; false; }"
lab_check "bluetoothd is still running" kill -0 $BTDPID
lab_check "while gaitcap streams, bluetoothctl lists the controllers" \
	sh -c "[ \$(grep -c '^Controller' $D/list1) -ge 2 ] || { cat $D/list1; false; }"
lab_check "while gaitcap streams, bluetoothctl scans (discovery starts on the capturing controller)" \
	sh -c "grep -q 'Discovery started' $D/scan && grep -q 'Discovering: yes' $D/scan || { cat $D/scan; false; }"
lab_check "the link was up during the capture (btmgmt con)" grep -q "$A1" $D/con1
lab_check "the insole was connected exactly once: nobody re-made or took over the link" \
	sh -c "[ \$(grep -c '^connected' $D/left.log) = 1 ] || { cat $D/left.log; false; }"
lab_check "every notification sent is in the file once, in order" \
	gaitcap-test-insole check $D/s.gcs --side left --log $D/left.log
lab_check "no gap at all: bluetoothd did not break the link" \
	sh -c "gaitcap-test-insole check $D/s.gcs --side left --log $D/left.log | tee /dev/stderr | grep -q 'missing 0 .*gaps 0 (device 0, link 0)'"
lab_check "after gaitcap closes its socket the link goes: bluetoothd does not keep it" \
	sh -c "! grep -q '$A1' $D/con2 && ! grep -q '$A1' $D/con3 || { cat $D/con2 $D/con3; false; }"
kill $BTDPID $DBUS 2>/dev/null
lab_done
