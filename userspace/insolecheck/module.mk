# SPDX-License-Identifier: GPL-2.0
# gaitinsole-simcheck: checks an insole stream of a session file against
# gaitinsole-sim's ground truth (the oracle of the demo's lab capture,
# tests/vm/scenarios/demo-ble.sh). Uses the session library only.
PROGS += gaitinsole-simcheck
gaitinsole-simcheck_SRCS := userspace/insolecheck/insolecheck.c
gaitinsole-simcheck_LIBS := gcsession
gaitinsole-simcheck_LDLIBS = $(gcsession_LDLIBS)
