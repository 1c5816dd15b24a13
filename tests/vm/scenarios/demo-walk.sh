# SPDX-License-Identifier: GPL-2.0
# The main job's guest half (make demo): a subject walks across an emulated
# 4-tile mat (gaitmat-sim playing the controller through /dev/gaitmat-virt),
# the gaitmat driver turns it into an IIO device, gaitcap captures the walk
# into a session file with io_uring, and gaitcap info shows what was stored.
# Every scan is then checked against the emulator's ground truth.
set -e
D=/tmp/demo
mkdir -p $D
SEED=${DEMO_SEED:-7}
WALK="--tiles 4 --duration 40 --seed $SEED"

echo "== gaitmat-sim: a normal walk back and forth over 4 tiles at 100 Hz"
gaitmat-sim --out /dev/gaitmat-virt $WALK --rate 100 --truth $D/truth.json \
	--quiet &
SIM=$!

echo "== waiting for the driver to announce the mat"
n=0
dev=""
while [ -z "$dev" ] && [ $n -lt 100 ]; do
	for d in /sys/bus/iio/devices/iio:device*; do
		[ "$(cat "$d/name" 2>/dev/null)" = gaitmat ] && dev=$d
	done
	sleep 0.1
	n=$((n + 1))
done
[ -n "$dev" ] || { echo "demo: the mat never appeared"; exit 1; }
echo "${dev##*/}: serial $(cat $dev/serialnumber 2>/dev/null)," \
	"firmware $(cat $dev/firmware 2>/dev/null)," \
	"$(ls $dev/scan_elements | grep -c '_en$') scan elements"

echo "== gaitcap capture (10 s)"
gaitcap capture -o $D/walk.gcs --duration 10 --status 2 --subject DEMO-001 \
	--task walk_back_and_forth --rate 100 --control none
kill -TERM $SIM 2>/dev/null || true
wait $SIM 2>/dev/null || true

echo "== gaitcap info"
gaitcap info $D/walk.gcs

echo "== checking every captured scan against the emulator's walk"
gaitmat-simcheck --truth $D/truth.json $WALK --contiguous --min-scans 500 \
	$D/walk.gcs
echo "== footfalls in the ground truth: $(grep -o '"side"' $D/truth.json | wc -l)"
echo "demo: OK"
