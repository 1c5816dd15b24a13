# SPDX-License-Identifier: GPL-2.0
#
# Helpers for lab scenarios, inside the guest: `. /lab/lib.sh`.
#
# A scenario is a /bin/sh (busybox) script; its exit status is its result
# (0 pass, 4 skip as in kselftest, anything else fail). With these helpers a
# scenario can also print TAP of its own, which scripts/suite counts when the
# lab runs it without --tap:
#
#   . /lab/lib.sh
#   lab_check "iio bus registered" test -d /sys/bus/iio
#   lab_check_skip "serdev device" "needs --ssdt"
#   lab_done                     # prints the plan, exits 1 if a check failed
#
# lab_skip REASON ends the whole scenario as skipped, the reason printed on a
# "SKIP: " line that `lab --tap` quotes.

LAB_T=0
LAB_FAILED=0

lab_check() {
	desc=$1
	shift
	LAB_T=$((LAB_T + 1))
	if out=$("$@" 2>&1); then
		echo "ok $LAB_T - $desc"
	else
		echo "not ok $LAB_T - $desc"
		[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
		LAB_FAILED=$((LAB_FAILED + 1))
	fi
}

lab_check_skip() {
	LAB_T=$((LAB_T + 1))
	echo "ok $LAB_T - $1 # SKIP $2"
}

lab_done() {
	echo "1..$LAB_T"
	[ $LAB_FAILED -eq 0 ]
	exit $?
}

lab_skip() {
	echo "SKIP: $*"
	exit 4
}

# lab_wait_for PATH [TENTHS]: wait until PATH exists (default 5 s).
lab_wait_for() {
	n=0
	while [ ! -e "$1" ]; do
		[ $n -ge "${2:-50}" ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
}

# lab_btmgmt ARGS...: btmgmt with the console as its stdin. Scenarios run
# with stdin on /dev/null, and btmgmt (BlueZ's bt_shell) quits at end of a
# non-terminal stdin before the controller's answer arrives, printing nothing.
lab_btmgmt() {
	btmgmt "$@" </dev/console
}
