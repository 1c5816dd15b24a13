# SPDX-License-Identifier: GPL-2.0
# Power loss, one boot of it (tests/vm/capture-powerloss drives the boots):
#
#   capture-powerloss.sh PREV SEED_PREV DURABLE DURABLE_T NOW SYNC_MS  NEXT SEED MODE
#
# 1. If PREV is not "-": the session a previous boot left on the ext4 disk
#    when the machine died is recovered in this fresh boot, every scan in it
#    is checked against the walk (gaitmat-simcheck; the emulator died too, so
#    scan 0 anchors the walk), it must hold at least DURABLE frames (what the
#    capture said was durable just before the end), and what was lost must
#    fit the documented interval: NOW (the capture's clock then) minus the
#    last recovered frame's timestamp at most SYNC_MS + 1000 ms.
# 2. If NEXT is not "-": record a new session NEXT on the disk from the
#    emulated mat, and once frames are durable, lose power: MODE "sysrq"
#    stops the machine from inside (sysrq b: no sync, no unmount) after a
#    random 1.5-4 s; MODE "host" keeps printing the capture's status until
#    the host kills QEMU at an instant of its own choosing.
#
# Lines for the host: "PL ok|fail TEXT" (results), "@@PL-STATUS ..."
# (the capture's counters), "@@PL-ARMED" (kill me now).
. /lab/lib.sh

[ $# -eq 9 ] || { echo "usage: $0 PREV SEED_PREV DURABLE DURABLE_T NOW SYNC_MS NEXT SEED MODE"; exit 2; }
PREV=$1 SEED_PREV=$2 DURABLE=$3 DURABLE_T=$4 NOW=$5 SYNC_MS=$6 NEXT=$7 SEED=$8 MODE=$9
[ "$LAB_DISK" = 1 ] || lab_skip "needs lab --disk IMG"
command -v gaitmat-simcheck >/dev/null || lab_skip "gaitmat-simcheck not built"
D=$LAB_DISK_DIR
WALK="--tiles 2 --duration 600"

pl() {
	echo "PL $*"
}

if [ "$PREV" != - ]; then
	f=$D/$PREV
	if [ ! -e "$f" ]; then
		pl fail "$PREV: the session file is not on the disk"
	else
		gaitcap recover "$f" >/tmp/rec.log 2>&1
		rc=$?
		sed 's/^/# /' /tmp/rec.log
		if [ $rc = 0 ]; then
			pl ok "$PREV: gaitcap recover in a fresh boot"
		else
			pl fail "$PREV: gaitcap recover exited $rc"
		fi
		if gaitcap info "$f" >/tmp/info.log 2>&1; then
			pl ok "$PREV: the recovered file opens (gaitcap info)"
		else
			pl fail "$PREV: gaitcap info exited $?"
			sed 's/^/# /' /tmp/info.log
		fi
		gaitmat-simcheck $WALK --seed "$SEED_PREV" "$f@$DURABLE" >/tmp/check.log 2>&1
		rc=$?
		sed 's/^/# /' /tmp/check.log
		if [ $rc = 0 ]; then
			pl ok "$PREV: all $DURABLE durable frames are there, every scan matches the walk"
		else
			pl fail "$PREV: gaitmat-simcheck exited $rc (at least $DURABLE frames were durable)"
		fi
		last=$(sed -n 's/.* last_t=\([0-9]*\).*/\1/p' /tmp/check.log | head -n 1)
		if [ -n "$last" ] && [ "$NOW" -gt 0 ]; then
			loss=$(((NOW - last) / 1000000))
			lag=$(((NOW - DURABLE_T) / 1000000))
			bound=$((SYNC_MS + 1000))
			echo "# lost the last $loss ms before the end (durable lag then $lag ms, bound $bound ms)"
			if [ $loss -le $bound ]; then
				pl ok "$PREV: lost $loss ms, within the sync interval ($SYNC_MS ms) + 1 s"
			else
				pl fail "$PREV: lost $loss ms, more than $bound ms"
			fi
		else
			pl fail "$PREV: no frame recovered to measure the loss"
		fi
	fi
fi

[ "$NEXT" = - ] && exit 0

[ -e /dev/gaitmat-virt ] || lab_skip "no /dev/gaitmat-virt"
gaitmat-sim --out /dev/gaitmat-virt $WALK --rate 100 --seed "$SEED" --quiet &
gaitcap capture -o "$D/$NEXT" --subject LAB-01 --wait 20 --quiet --status 0 --sync-ms "$SYNC_MS" \
	--subject LAB-PL >/tmp/cap.log 2>&1 &
CAP=$!

status() {
	gaitcap mark --status --timeout 1000 2>/dev/null
}

# Wait until a sync has made frames durable: the loss is measured from there.
i=0
until status | grep -q 'durable_frames=[1-9]'; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 $CAP 2>/dev/null; then
		pl fail "$NEXT: the capture never made a frame durable"
		cat /tmp/cap.log
		exit 1
	fi
	sleep 0.1
done
pl ok "$NEXT: recording on ext4, frames durable"

if [ "$MODE" = sysrq ]; then
	ms=$((1500 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 2500))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	echo "@@PL-STATUS $(status)"
	echo b >/proc/sysrq-trigger
	sleep 10
	pl fail "sysrq b did not stop the machine"
	exit 1
fi
echo "@@PL-ARMED"
while :; do
	echo "@@PL-STATUS $(status)"
	sleep 0.05
done
