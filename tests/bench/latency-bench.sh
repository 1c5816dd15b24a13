# SPDX-License-Identifier: GPL-2.0
# In the lab guest (tests/bench/run-latency-bench): gaitcap capture of the
# emulated mat at its nominal rate, with --watermark 1 and with the default
# hold, each with and without gaitcap-latency attached, in alternating
# order, ROUNDS times. Prints one LATCPU line per capture (its CPU time from
# the shell's `times`) and, when the tool was attached, LATSTAGE lines with
# its percentiles. Arguments: SECONDS ROUNDS RATE.
SECS=${1:-10}
ROUNDS=${2:-3}
RATE=${3:-100}
D=/tmp/latbench
mkdir -p $D

gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate "$RATE" --duration 3600 --seed 7 --quiet &
SIM=$!

# capture_cpu FILE OPTS: the capture's user + system seconds
capture_cpu() {
	sh -c "gaitcap capture -o $1 --subject LAB-01 --wait 15 --duration $SECS --rate $RATE $2 \
		--status 0 --quiet --control none >/dev/null 2>&1; times" | tail -n1 |
		awk '{ n = split($0, f, " "); t = 0
			for (i = 1; i <= n; i++) { split(f[i], p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
			printf "%.3f\n", t }'
}
jstage() {	# FILE STAGE NAME
	sed -n "s/.*\"$2\":{\([^}]*\)}.*/\1/p" "$1" | sed -n "s/.*\"$3\":\([0-9]*\).*/\1/p" | head -n1
}

r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	# Alternate the order of each pair so drift does not favour one side.
	if [ $((r % 2)) = 1 ]; then order="off on"; else order="on off"; fi
	for wm in w1 dflt; do
		opt=""
		[ $wm = w1 ] && opt="--watermark 1"
		for tool in $order; do
			f=$D/$wm-$tool-$r.gcs
			if [ $tool = on ]; then
				gaitcap-latency -j >$D/t.json 2>$D/t.err &
				T=$!
				n=0
				while ! grep -q '^Tracing' $D/t.err && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
			fi
			cpu=$(capture_cpu $f "$opt")
			frames=$(gaitcap info $f | sed -n 's/.*iio_scan .* \([0-9]*\) records in .*/\1/p' | head -n1)
			echo "LATCPU mode=$wm tool=$tool round=$r cpu_s=$cpu frames=${frames:-0}"
			if [ $tool = on ]; then
				kill -INT $T
				wait $T
				for st in wire hold read reap commit path; do
					echo "LATSTAGE mode=$wm round=$r stage=$st count=$(jstage $D/t.json $st count)" \
						"p50=$(jstage $D/t.json $st p50_ns) p99=$(jstage $D/t.json $st p99_ns)" \
						"p999=$(jstage $D/t.json $st p99_9_ns) max=$(jstage $D/t.json $st max_ns)"
				done
			fi
			rm -f $f
		done
	done
done
kill -TERM $SIM
wait $SIM
echo "LATDONE"
