# SPDX-License-Identifier: GPL-2.0
# gaitcap-test-insole: the insole capture tests' minimal LE peripheral and
# their oracle (tests/vm/scenarios/capture-insoles.sh); test code, built
# with the tools so that the lab copies it into the guest.
PROGS += gaitcap-test-insole
gaitcap-test-insole_SRCS := tests/vm/helpers/gaitcap_test_insole.c \
	tests/unit/ble_peer.c
gaitcap-test-insole_LIBS := gcengine gaitble gcsession
gaitcap-test-insole_LDLIBS = $(gcengine_LDLIBS) $(gcsession_LDLIBS) $(gaitble_LDLIBS)
