# SPDX-License-Identifier: GPL-2.0
# The wire protocol codec, shared by the driver, the emulator and the fuzzers.
UNIT_TESTS += test_proto
test_proto_SRCS := tests/unit/test_proto.c driver/gaitmat_proto.c
test_proto_LDLIBS :=
