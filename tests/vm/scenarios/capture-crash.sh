# SPDX-License-Identifier: GPL-2.0
# Process crash: capture from the emulated mat, kill -9 at a random instant
# (0-1.6 s after start: while creating the file, finding the mat, enabling
# the buffer or recording), gaitcap recover, again and again. Then every file must
# open, and every frame the capture had committed (gaitcap mark --status just
# before the kill) must be there, bit for bit as the emulator sent it
# (gaitmat-simcheck against the emulator's truth). docs/capture.md.
#
# KILLS instants per boot (first argument, default 50): the suite runs this
# once per guest kernel, so `make check` kills 100 captures in all.
. /lab/lib.sh

command -v gaitcap >/dev/null || lab_skip "gaitcap not built"
command -v gaitmat-simcheck >/dev/null || lab_skip "gaitmat-simcheck not built"
[ -e /dev/gaitmat-virt ] || lab_skip "no /dev/gaitmat-virt (gaitmat_virt not loaded)"

KILLS=${1:-50}
SIM="--tiles 2 --rate 100 --duration 900 --seed 31"
CHECK="--tiles 2 --duration 900 --seed 31"
D=/tmp/crash
mkdir -p $D
gaitmat-sim --out /dev/gaitmat-virt $SIM --truth $D/truth.json --quiet &
SIMPID=$!

rand() {
	od -An -N2 -tu2 /dev/urandom | tr -d ' '
}

mat_up() {
	for n in /sys/bus/iio/devices/iio:device*/name; do
		[ "$(cat "$n" 2>/dev/null)" = gaitmat ] && return 0
	done
	return 1
}
i=0
while ! mat_up && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
mat_up || lab_skip "the emulated mat did not appear"

t0=$(cut -d' ' -f1 /proc/uptime)
i=0 opened=0 early=0 bad=0 args="" files=""
while [ $i -lt "$KILLS" ]; do
	f=$D/k$i.gcs
	gaitcap capture -o $f --quiet --status 0 >$D/cap.log 2>&1 &
	P=$!
	ms=$(($(rand) % 1600))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	# Committed so far (a lower bound: more may commit before the kill).
	st=$(gaitcap mark --status --timeout 300 2>/dev/null)
	kill -9 $P
	wait $P 2>/dev/null
	committed=$(echo "$st" | sed -n "s/.* committed_frames=\([0-9]*\).*/\1/p")
	: "${committed:=0}"
	if [ ! -e $f ]; then
		# Killed before its file had a name (the file is named once
		# it is a session): it cannot have committed anything.
		early=$((early + 1))
		[ "$committed" = 0 ] || {
			bad=$((bad + 1))
			echo "# kill $i after $ms ms: no file, but $committed frames were committed"
		}
	elif gaitcap recover $f >$D/rec.log 2>&1; then
		# It opens: gaitmat-simcheck reads it whole (and checks it) below.
		opened=$((opened + 1))
		args="$args $f@$committed"
		files="$files $f"
	elif [ -z "$(tr -d '\000' <$f | head -c 1)" ]; then
		# Killed between open() and the first header write (the writer
		# preallocates in between): nothing was ever committed to it.
		early=$((early + 1))
		rm -f $f
	else
		bad=$((bad + 1))
		echo "# kill $i after $ms ms: $f does not open after recovery:"
		sed 's/^/#   /' $D/rec.log
	fi
	i=$((i + 1))
done
t1=$(cut -d' ' -f1 /proc/uptime)
kill -TERM $SIMPID
wait $SIMPID

echo "# $KILLS kills in $t0..$t1 s: $opened files recovered, $early killed before the file existed"
lab_check "every file a killed capture left opens after gaitcap recover, none lost a committed frame" test $bad = 0
# How many land before the file is named depends on how fast this guest
# starts a capture (7-11 of 50 here, more on a loaded host): at least half.
lab_check "at least half the kills left a file to check" test $opened -ge $((KILLS / 2))
# shellcheck disable=SC2086 # one argument per file
gaitmat-simcheck --quiet --allow-empty --truth $D/truth.json $CHECK $args >$D/check.log 2>&1
rc=$?
sed 's/^/# /' $D/check.log | tail -n 5
lab_check "every committed frame is there, unaltered (checked against the walk)" test $rc = 0
lab_check "recovery changed nothing the second time" \
	sh -c "for f in $files; do gaitcap recover \$f | grep -q 'nothing to do' || { gaitcap info \$f | head -3; exit 1; }; done"
lab_done
