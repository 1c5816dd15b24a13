# SPDX-License-Identifier: GPL-2.0
# Durability claimed only where it holds (docs/capture.md, session format 7.5),
# on the lab's ext4 disk behind a device-mapper target we can break:
#   1. capture until the disk is full: the session ends cleanly, says why
#      (ENOSPC), and every scan committed reads back equal to the walk;
#   2. writes start failing under a capture (dm-flakey error_writes): the
#      capture stops on the failed sync, the header says so, and recovery
#      afterwards (the disk good again, a new descriptor that cannot see the
#      old error) keeps the records but not a durable mark over them;
#   3. --clock realtime: chunk times stay on the monotonic timeline;
#   4. the transport unbound while a read waits on the ring: the capture
#      ends cleanly with what it had.
# Needs lab --disk IMG --tool /usr/sbin/dmsetup --tool /usr/sbin/mke2fs.
# Prints TAP.
. /lab/lib.sh

command -v gaitcap >/dev/null || lab_skip "gaitcap not built"
command -v gaitmat-sim >/dev/null || lab_skip "gaitmat-sim not built"
[ "$LAB_DISK" = 1 ] || lab_skip "needs lab --disk IMG"
command -v dmsetup >/dev/null || lab_skip "needs lab --tool /usr/sbin/dmsetup"
command -v mke2fs >/dev/null || lab_skip "needs lab --tool /usr/sbin/mke2fs"
# No udevd here: libdevmapper makes the /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1
D=/tmp/dur
M=/mnt/disk
mkdir -p $D

modprobe dm-flakey || lab_skip "no dm-flakey module"
umount $M || lab_skip "cannot unmount the lab disk"
SECT=$(blockdev --getsz /dev/vda)
LINEAR="0 $SECT linear /dev/vda 0"
FAILING="0 $SECT flakey /dev/vda 0 0 3600 1 error_writes"
dm_table() {
	dmsetup suspend --nolockfs gcsdisk && dmsetup reload gcsdisk --table "$1" &&
		dmsetup resume gcsdisk
}
lab_check "dm: the lab disk behind a device-mapper device" \
	dmsetup create gcsdisk --table "$LINEAR"
# A fresh ext4 without a journal: the failed writes must hit our data, not
# a journal commit, which aborts the journal and makes every later read of
# the filesystem fail (6.12): that outcome claims nothing either, but
# tests nothing of ours.
lab_check "dm: a fresh ext4 (no journal) on it, mounted" \
	sh -c "mke2fs -q -F -t ext4 -O ^has_journal /dev/mapper/gcsdisk && mount /dev/mapper/gcsdisk $M"

SIM="--tiles 2 --rate 100 --duration 300 --seed 31"
CHECK="--tiles 2 --duration 300 --seed 31"
gaitmat-sim --out /dev/gaitmat-virt $SIM --truth $D/truth.json --quiet &
SIMPID=$!

# 1. Until the disk is full (raw chunks: it fills faster).
gaitcap capture -o $M/full.gcs --subject LAB-01 --wait 15 --duration 120 --no-compact --status 0 \
	--control none >$D/full.log 2>&1
rc=$?
lab_check "full: capture exits 2 (closed, ended on an error)" test $rc = 2
lab_check "full: the summary says the disk was full" grep -q 'disk full' $D/full.log
lab_check "full: the file was closed" grep -q 'full.gcs closed' $D/full.log
gaitcap info $M/full.gcs >$D/full.info 2>&1
lab_check "full: closed, integrity OK" \
	sh -c "grep -q closed $D/full.info && grep -q 'integrity   OK' $D/full.info"
lab_check "full: the session_end marker says ENOSPC" \
	sh -c "grep -E 'session_end.*(value 28|ENOSPC|disk full)' $D/full.info"
lab_check "full: the filesystem is full" \
	sh -c "df -k $M | awk 'NR == 2 { exit !(\$4 < 2048) }'"
# Checked against the walk at the end (the emulator writes it when it stops).
lab_check "full: the session copied aside" mv $M/full.gcs $D/full.gcs
sync

# 2. Writes fail under a running capture.
header() {	# header FIELD-OFFSET WIDTH: the field of the newest valid slot
	g0=$(dd if=$1 bs=1 skip=40 count=8 2>/dev/null | od -An -tu8 | tr -d ' ')
	g1=$(dd if=$1 bs=1 skip=$((4096 + 40)) count=8 2>/dev/null | od -An -tu8 | tr -d ' ')
	base=0
	[ "$g1" -gt "$g0" ] && base=4096
	dd if=$1 bs=1 skip=$((base + $2)) count=$3 2>/dev/null | od -An -tu$3 | tr -d ' '
}
gaitcap capture -o $M/fail.gcs --subject LAB-01 --wait 15 --duration 60 --sync-ms 200 --status 0 \
	--control none >$D/fail.log 2>&1 &
CAP=$!
sleep 4
lab_check "flakey: writes start failing" dm_table "$FAILING"
n=0
while kill -0 $CAP 2>/dev/null && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
kill -0 $CAP 2>/dev/null && kill -TERM $CAP
wait $CAP
rc=$?
lab_check "flakey: the capture stopped at once, exit 3 (run gaitcap recover)" \
	sh -c "[ $rc = 3 ] && [ $n -lt 50 ]"
lab_check "flakey: it says so" grep -q 'run gaitcap recover' $D/fail.log
lab_check "flakey: the disk is good again" dm_table "$LINEAR"
mark=$(header $M/fail.gcs 64 8)
lab_check "flakey: the header says the sync failed (EIO), state OPEN" \
	sh -c "[ $(header $M/fail.gcs 92 4) = 5 ] && [ $(header $M/fail.gcs 48 4) = 1 ]"
lab_check "flakey: ... with a durable mark from before" \
	sh -c "[ $mark -gt 8192 ] && [ $mark -lt $(stat -c %s $M/fail.gcs) ]"
lab_check "flakey: gaitcap info names the failed sync (EIO) as a problem" \
	sh -c "gaitcap info $M/fail.gcs | grep -q 'durability sync failed with EIO'"
gaitcap recover $M/fail.gcs >$D/rec.log 2>&1
cat $D/rec.log
end=$(stat -c %s $M/fail.gcs)
lab_check "flakey: recovered (state RECOVERED), the error kept in the header" \
	sh -c "[ $(header $M/fail.gcs 48 4) = 3 ] && [ $(header $M/fail.gcs 92 4) = 5 ]"
lab_check "flakey: recovery's own sync did not make the rest durable" \
	sh -c "[ $(header $M/fail.gcs 64 8) = $mark ] && [ $mark -lt $end ]"

# 3. The IIO timestamps in realtime: chunk times still monotonic.
gaitcap capture -o $D/rt.gcs --subject LAB-01 --wait 15 --duration 3 --clock realtime --status 0 \
	--control none >$D/rt.log 2>&1
rc=$?
lab_check "realtime: capture exits 0" test $rc = 0
gaitcap info $D/rt.gcs >$D/rt.info 2>&1
lab_check "realtime: the session lasts seconds, not decades (one timeline)" \
	sh -c "d=\$(sed -n 's/^duration *\([0-9]*\)\..*/\1/p' $D/rt.info); [ -n \"\$d\" ] && [ \$d -lt 30 ]"
lab_check "realtime: the stream says its records carry realtime" \
	sh -c "gaitcap info --json $D/rt.gcs | grep -q '\"timestamp_clock\":\"realtime\"'"

# 4. The transport goes while a read waits on the ring.
virt_dev() {
	for d in /sys/devices/virtual/misc/gaitmat-virt/gaitmat-virt.*; do
		[ -e "$d/driver" ] && { echo "$d"; return 0; }
	done
	return 1
}
# Fast poll: the READ itself is submitted at once and parked in the ring.
gaitcap capture -o $D/ub.gcs --subject LAB-01 --wait 15 --duration 60 --no-reattach --io fast-poll \
	--status 0 --control none >$D/ub.log 2>&1 &
CAP=$!
# 3 s is ~200 scans on a quiet host, fewer on a loaded one: the check asks for 50.
sleep 3
dev=$(virt_dev)
echo "# transport device: $dev -> $(readlink $dev/driver)"
lab_check "unbind: the transport device unbinds under a capture" \
	sh -c "echo ${dev##*/} >$dev/driver/unbind"
n=0
while kill -0 $CAP 2>/dev/null && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
kill -0 $CAP 2>/dev/null && kill -TERM $CAP
wait $CAP
rc=$?
cat $D/ub.log | sed 's/^/# /'
lab_check "unbind: the capture ends by itself, the file closed" \
	sh -c "[ $n -lt 100 ] && grep -q 'ub.gcs closed' $D/ub.log"
kill -TERM $SIMPID 2>/dev/null
wait $SIMPID 2>/dev/null
lab_check "unbind: the transport module unloads afterwards" \
	sh -c "rmmod gaitmat_virt || { sleep 1; rmmod gaitmat_virt; }"

lab_check "full: every committed scan reads back equal to the walk" \
	gaitmat-simcheck --truth $D/truth.json $CHECK --contiguous --min-scans 1000 $D/full.gcs
lab_check "flakey: the records kept by recovery are equal to the walk" \
	gaitmat-simcheck --truth $D/truth.json $CHECK --contiguous --min-scans 100 $M/fail.gcs
lab_check "realtime: every scan equal to the walk" \
	gaitmat-simcheck --truth $D/truth.json $CHECK --contiguous --min-scans 150 $D/rt.gcs
lab_check "unbind: what it read is there, equal to the walk" \
	gaitmat-simcheck --truth $D/truth.json $CHECK --contiguous --min-scans 50 $D/ub.gcs

umount $M
dmsetup remove gcsdisk
lab_done
