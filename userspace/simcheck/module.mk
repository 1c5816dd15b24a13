# SPDX-License-Identifier: GPL-2.0
# gaitmat-simcheck: checks the mat scans of session files against the
# emulator's walk (the oracle of the capture crash, power-loss and bench
# tests, docs/capture.md). Uses the emulator's library and the session
# library; nothing links it.
PROGS += gaitmat-simcheck
gaitmat-simcheck_SRCS := userspace/simcheck/simcheck.c driver/gaitmat_proto.c
gaitmat-simcheck_LIBS := gaitsim gcsession
gaitmat-simcheck_LDLIBS = $(gcsession_LDLIBS) -ljson-c -lm
