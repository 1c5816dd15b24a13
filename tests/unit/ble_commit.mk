# SPDX-License-Identifier: GPL-2.0
# The insole source with commit_each (capture --watermark 1): a chunk per
# notification from the minimal insole peripheral, batches without it.
# Recursive (=): the engine's and libgaitble's lists come from other .mk.
UNIT_TESTS += test_ble_commit
test_ble_commit_SRCS = tests/unit/test_ble_commit.c tests/unit/ble_peer.c \
	userspace/engine/src_ble.c $(ENG_TEST_SRCS) $(GAITBLE_TEST_SRCS)
test_ble_commit_LDLIBS = $(ENG_TEST_LIBS) -lm
