# SPDX-License-Identifier: GPL-2.0
# gaitcap capture from the emulated mat (gaitmat-sim on /dev/gaitmat-virt):
# libiio finds and sets up the device, io_uring reads its buffer into the
# session file; every scan is then checked bit for bit against the walk
# (gaitmat-simcheck), with markers, clock records, SIGINT, the control
# socket, a second capture refused and a controller that resets while
# recording. docs/capture.md. Prints TAP.
. /lab/lib.sh

command -v gaitcap >/dev/null || lab_skip "gaitcap not built"
command -v gaitmat-sim >/dev/null || lab_skip "gaitmat-sim not built"
[ -e /dev/gaitmat-virt ] || lab_skip "no /dev/gaitmat-virt (gaitmat_virt not loaded)"

SIM="--tiles 2 --rate 100 --duration 120 --seed 21"
CHECK="--tiles 2 --duration 120 --seed 21"
D=/tmp/cap
mkdir -p $D
gaitmat-sim --out /dev/gaitmat-virt $SIM --truth $D/truth.json --quiet &
SIMPID=$!

# 1. A timed capture with markers sent through the control socket.
gaitcap capture -o $D/a.gcs --wait 15 --duration 4 --status 0 --subject LAB-01 \
	--task walk_back_and_forth --rate 100 >$D/a.log 2>&1 &
CAP=$!
lab_wait_for /run/gaitcap/capture.sock 150
sleep 1
gaitcap mark --value 1 >$D/mark1.out 2>&1
gaitcap mark trial-start --value 2 >$D/mark2.out 2>&1
gaitcap mark --status >$D/status.out 2>&1
wait $CAP
rc=$?
lab_check "capture exits 0 after --duration" test $rc = 0
lab_check "capture closed the file" grep -q "a.gcs closed" $D/a.log
lab_check "gaitcap mark answered with the marker time" grep -q '^event marker recorded at [0-9-]* [0-9:.]*, value 1$' $D/mark1.out
lab_check "gaitcap mark --status reports frames" grep -q '^frames=[1-9]' $D/status.out
lab_check "gaitcap mark --status reports how full reads came" grep -q ' peak_frames=[1-9]' $D/status.out
lab_check "the control socket is gone with the capture" test ! -e /run/gaitcap/capture.sock
lab_check "the buffer is disabled again" \
	sh -c 'for d in /sys/bus/iio/devices/iio:device*; do [ "$(cat $d/name)" = gaitmat ] && exit $(cat $d/buffer/enable); done; exit 1'
gaitcap info $D/a.gcs >$D/a.info 2>&1
lab_check "gaitcap info opens it: closed, integrity OK" \
	sh -c "grep -q 'closed' $D/a.info && grep -q 'integrity   OK' $D/a.info"
lab_check "one iio_scan stream at 100 Hz, no gap" \
	sh -c "grep -q 'iio_scan mat0 *16416 B/record' $D/a.info && grep -q 'gaps 0 (0 records)' $D/a.info"
lab_check "markers: session start, event 1, trial start 2, session end" \
	sh -c "grep -q session_start $D/a.info && grep -q 'event value 1' $D/a.info &&
		grep -q 'trial_start value 2' $D/a.info && grep -q session_end $D/a.info"
lab_check "clock records were written (about one a second)" \
	sh -c "n=\$(sed -n 's/^clock *\([0-9]*\) records.*/\1/p' $D/a.info); [ \"\$n\" -ge 4 ]"
gaitcap info --json $D/a.gcs >$D/a.json 2>&1
lab_check "the stream says which mat, its layout and its clock" \
	sh -c "grep -q '\"serial\":\"GMSIM-' $D/a.json && grep -q '\"scan_bytes\":16416' $D/a.json &&
		grep -q '\"timestamp_clock\":\"monotonic\"' $D/a.json && grep -q '\"rate_hz\":100' $D/a.json"
lab_check "the session metadata holds the pseudonym and the task" \
	sh -c "grep -q '\"subject\":\"LAB-01\"' $D/a.json && grep -q '\"task\":\"walk_back_and_forth\"' $D/a.json"

# 2. SIGINT while recording: the file is finished cleanly.
gaitcap capture -o $D/b.gcs --subject LAB-01 --status 0 --quiet >$D/b.log 2>&1 &
CAP=$!
sleep 3
kill -INT $CAP
wait $CAP
rc=$?
lab_check "SIGINT: capture exits 0" test $rc = 0
lab_check "SIGINT: the file is closed, not left for recovery" \
	sh -c "gaitcap info $D/b.gcs | grep -q 'closed'"

# 3. Only one capture at a time: the second is refused, leaves no file.
gaitcap capture -o $D/c.gcs --subject LAB-01 --status 0 --quiet >$D/c.log 2>&1 &
CAP=$!
sleep 2
gaitcap capture -o $D/d.gcs --subject LAB-01 --quiet --control none >$D/d.log 2>&1
rc=$?
lab_check "a second capture of the same mat is refused" test $rc = 1
lab_check "it says why" grep -q "in use" $D/d.log
lab_check "and leaves no session file behind" test ! -e $D/d.gcs
kill -TERM $CAP
wait $CAP
lab_check "SIGTERM: capture exits 0" test $? = 0
lab_check "an existing session is never overwritten" \
	sh -c "! gaitcap capture -o $D/a.gcs --subject LAB-01 --quiet --control none --duration 1 2>/dev/null"

kill -TERM $SIMPID
wait $SIMPID

# 4. The controller resets mid-capture: its IIO device goes and a new one
# comes; capture carries on in a new stream, with the outage on record.
gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 100 --duration 120 --seed 23 \
	--fault reset:at=300 --truth $D/reset.json --quiet &
RSIM=$!
gaitcap capture -o $D/r.gcs --subject LAB-01 --wait 15 --duration 9 --status 0 --quiet \
	--control none >$D/r.log 2>&1
rc=$?
kill -TERM $RSIM
wait $RSIM
gaitcap info $D/r.gcs >$D/r.info 2>&1
lab_check "reset: capture goes on and exits 0" test $rc = 0
lab_check "reset: a second stream after the reset, both without gaps" \
	sh -c "[ \$(grep -c 'iio_scan mat0' $D/r.info) = 2 ] && [ \$(grep -c 'jumps 0 (0 unexplained)' $D/r.info) = 2 ]"
lab_check "reset: a device_reset marker names the new stream" \
	grep -q 'device_reset stream 0 value 1' $D/r.info
lab_check "reset: the outage is a disconnect gap on the old stream" \
	sh -c "gaitcap info --json $D/r.gcs | grep -q '\"reason\":\"disconnect\"'"
lab_check "reset: the scans of both boots match the walk" \
	gaitmat-simcheck --truth $D/reset.json --tiles 1 --duration 120 --seed 23 \
		--boot-per-stream --min-scans 450 $D/r.gcs

# 5. Two resets 2 s apart: the driver holds the third registration back
# (docs/driver.md), capture has let go of the lost device by then, and IIO
# gives the new one the same name. It is a new device all the same.
gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 100 --duration 120 --seed 29 \
	--fault reset:at=300 --fault reset:at=500 --truth $D/reset2.json --quiet &
RSIM=$!
gaitcap capture -o $D/r2.gcs --subject LAB-01 --wait 15 --duration 10 --status 0 \
	--control none >$D/r2.log 2>&1
rc=$?
kill -TERM $RSIM
wait $RSIM
gaitcap info $D/r2.gcs >$D/r2.info 2>&1
lab_check "two resets: three streams, each found again (exit $rc)" \
	sh -c "[ $rc = 0 ] && [ \$(grep -c 'iio_scan mat0' $D/r2.info) = 3 ] || { cat $D/r2.log $D/r2.info; false; }"
lab_check "two resets: the scans of every boot match the walk" \
	gaitmat-simcheck --truth $D/reset2.json --tiles 1 --duration 120 --seed 29 \
		--boot-per-stream --min-scans 500 $D/r2.gcs

lab_check "every scan matches the emulator's walk, no gap inside a session" \
	gaitmat-simcheck --truth $D/truth.json $CHECK --contiguous --min-scans 200 $D/a.gcs
lab_check "and after SIGINT/SIGTERM too" \
	gaitmat-simcheck --truth $D/truth.json $CHECK --contiguous --min-scans 100 $D/b.gcs $D/c.gcs
lab_check "the driver lost nothing (overruns 0)" \
	sh -c "grep -q 'overruns 0' $D/a.log"
lab_done
