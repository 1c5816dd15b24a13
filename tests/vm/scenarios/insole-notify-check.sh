# SPDX-License-Identifier: GPL-2.0
# insole-notify-check.sh TRUTH GATTTOOL_OUT MIN [DROPS]: the notification
# values gatttool printed are, in order, exactly the "sent" notifications
# of gaitinsole-sim's ground truth over the span received (nothing extra,
# nothing missing, no duplicate), at least MIN of them, and the span holds
# DROPS notifications the truth marks dropped (default 0). Not a scenario:
# insole-sim.sh runs it.
truth=$1 out=$2 min=$3 drops=${4:-0}
awk -v min="$min" -v drops="$drops" -F'\t' '
FNR == NR {
	if ($1 == "notify") {
		n++; st[n] = $3; val[n] = $12
	}
	next
}
/Notification handle = 0x001a value:/ {
	v = $0
	sub(/.*value: */, "", v)
	gsub(/[^0-9a-f]/, "", v)
	r++; got[r] = v
}
END {
	if (r < min) { printf "only %d notifications (< %d)\n", r, min; exit 1 }
	for (i = 1; i <= n; i++) if (st[i] == "sent" && val[i] == got[1]) break
	if (i > n) { print "first received value is not in the truth"; exit 1 }
	k = 1; nd = 0
	for (; i <= n && k <= r; i++) {
		if (st[i] == "dropped") { nd++; continue }
		if (st[i] != "sent") continue
		if (val[i] != got[k]) {
			printf "received #%d differs from truth notify %d\n", k, i - 1
			exit 1
		}
		k++
	}
	if (k <= r) { printf "%d received beyond the truth\n", r - k + 1; exit 1 }
	if (nd != drops) { printf "%d drops in the span, want %d\n", nd, drops; exit 1 }
	printf "%d notifications match the truth (%d drops skipped)\n", r, nd
}' "$truth" "$out"
