# SPDX-License-Identifier: GPL-2.0
# gaitmat-simcheck, the oracle of every capture test, must reject what a
# capture could get wrong. From a real capture of the emulated mat (raw
# scans from iio_readdev, which it checks with --raw) it must accept the
# capture as it is, and reject a copy with one changed byte, with a scan
# missing (inside and at the end), with a scan twice, and with two scans
# swapped. A session that gaitcap captured while the emulator dropped a
# scan (--fault drop) must fail --contiguous and show the gap without it.
# Only the scan size is read from the capture: no layout is assumed beyond
# the sensel rows coming first. docs/capture.md. Prints TAP.
. /lab/lib.sh

command -v gaitmat-simcheck >/dev/null || lab_skip "gaitmat-simcheck not built"
command -v iio_readdev >/dev/null || lab_skip "iio_readdev not in the guest"
[ -e /dev/gaitmat-virt ] || lab_skip "no /dev/gaitmat-virt (gaitmat_virt not loaded)"

D=/tmp/sc
N=300
K=150
mkdir -p $D

mat() {
	for n in /sys/bus/iio/devices/iio:device*/name; do
		[ "$(cat "$n" 2>/dev/null)" = gaitmat ] && { basename "${n%/name}"; return 0; }
	done
	return 1
}
wait_mat() {
	i=0
	while ! mat >/dev/null && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	mat >/dev/null
}
stop_sim() {
	kill -TERM "$SIM" 2>/dev/null
	wait "$SIM" 2>/dev/null
	# The mat's IIO device goes with the emulator; the next one is new.
	i=0
	while mat >/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# ---- 1. raw scans, as iio_readdev writes them
gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 100 --duration 120 --seed 51 \
	--truth $D/t1.json --quiet &
SIM=$!
wait_mat || lab_skip "the emulated mat did not appear"
iio_readdev -u local: -b 20 -s $N -T 30000 "$(mat)" >$D/base.raw 2>$D/readdev.log
stop_sim
S=$(($(wc -c <$D/base.raw) / N))
lab_check "iio_readdev captured $N whole scans" \
	sh -c "[ $S -gt 0 ] && [ \$(wc -c <$D/base.raw) -eq $((N * S)) ]"
check() {	# check FILE [OPTION...]: simcheck of a raw capture, output in FILE.out
	f=$1
	shift
	gaitmat-simcheck --raw --truth $D/t1.json --tiles 1 --duration 120 --seed 51 \
		"$@" "$f" >"$f.out" 2>&1
}
rejects() {	# rejects DESC WHY FILE [OPTION...]: exit 1 (not 2, an error), naming WHY
	desc=$1 why=$2 f=$3
	shift 3
	check "$f" "$@"
	rc=$?
	lab_check "$desc" sh -c "[ $rc = 1 ] && grep -q '$why' $f.out || { echo exit $rc; cat $f.out; false; }"
}

check $D/base.raw --contiguous --min-scans $N
lab_check "the capture as it is matches the walk (the control)" \
	sh -c "grep -q ': $N scans match the walk' $D/base.raw.out || { cat $D/base.raw.out; false; }"

# One byte of scan K changed: in the first sensel, and a quarter into the scan.
flip() {	# flip FILE OFFSET: XOR the byte at OFFSET with 1
	v=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059 # an octal escape made on purpose
	printf "\\$(printf %o $((v ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
for off in 0 1 $((S / 4)); do
	cp $D/base.raw $D/byte$off.raw
	flip $D/byte$off.raw $((K * S + off))
	lab_check "the changed copy differs from the capture" sh -c "! cmp -s $D/base.raw $D/byte$off.raw"
	rejects "one byte changed (scan $K, byte $off): rejected" 'differ from the walk' $D/byte$off.raw
done

# Scan K missing.
{ head -c $((K * S)) $D/base.raw; tail -c +$(((K + 1) * S + 1)) $D/base.raw; } >$D/miss.raw
rejects "scan $K missing: rejected with --contiguous" '1 scans missing' $D/miss.raw --contiguous
check $D/miss.raw
lab_check "scan $K missing: without --contiguous the gap is counted" \
	grep -q ': '$((N - 1))' scans match the walk (seq [0-9]*\.\.[0-9]*, 1 missing in between)' $D/miss.raw.out
head -c $(((N - 1) * S)) $D/base.raw >$D/short.raw
rejects "the last scan missing: rejected by --min-scans $N" "fewer than $N" $D/short.raw --min-scans $N
head -c $((N * S - 7)) $D/base.raw >$D/cut.raw
rejects "the last scan cut short: rejected" 'in the middle of a scan' $D/cut.raw

# Scan K twice, and scans K and K + 1 swapped.
{ head -c $(((K + 1) * S)) $D/base.raw; tail -c +$((K * S + 1)) $D/base.raw; } >$D/dup.raw
rejects "scan $K twice: rejected" 'differ from the walk' $D/dup.raw
{
	head -c $((K * S)) $D/base.raw
	dd if=$D/base.raw bs=$S skip=$((K + 1)) count=1 2>/dev/null
	dd if=$D/base.raw bs=$S skip=$K count=1 2>/dev/null
	tail -c +$(((K + 2) * S + 1)) $D/base.raw
} >$D/swap.raw
rejects "scans $K and $((K + 1)) swapped: rejected" 'differ from the walk' $D/swap.raw

# ---- 2. a session from gaitcap while the emulator drops scan 150
if command -v gaitcap >/dev/null; then
	gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 100 --duration 120 --seed 52 \
		--fault drop:at=150 --truth $D/t2.json --quiet &
	SIM=$!
	wait_mat || lab_skip "the emulated mat did not appear again"
	gaitcap capture -o $D/drop.gcs --subject LAB-01 --wait 15 --duration 4 --status 0 --quiet \
		--control none >$D/cap.log 2>&1
	rc=$?
	stop_sim
	lab_check "gaitcap captured a session (exit $rc)" test $rc = 0
	S2="--truth $D/t2.json --tiles 1 --duration 120 --seed 52"
	lab_check "a session with a dropped scan: rejected with --contiguous" \
		sh -c "! gaitmat-simcheck $S2 --contiguous $D/drop.gcs >$D/drop.out 2>&1 && grep -q '1 scans missing' $D/drop.out || { cat $D/drop.out $D/cap.log; false; }"
	lab_check "... and the gap is counted without it" \
		sh -c "gaitmat-simcheck $S2 $D/drop.gcs 2>&1 | grep -q ', 1 missing in between'"
else
	lab_check_skip "a session with a dropped scan" "gaitcap not built"
fi
lab_done
