# SPDX-License-Identifier: GPL-2.0
# The insole source of the engine (src_ble.c) against a minimal insole
# peripheral (ble_peer.c) over socketpairs: the GATT sequence on the ring,
# notifications into the session, gaps, reconnection, duplicates dropped.
# Recursive (=): the engine's and libgaitble's lists come from other .mk.
UNIT_TESTS += test_ble_src
test_ble_src_SRCS = tests/unit/test_ble_src.c tests/unit/ble_peer.c \
	userspace/engine/src_ble.c $(ENG_TEST_SRCS) $(GAITBLE_TEST_SRCS)
test_ble_src_LDLIBS = $(ENG_TEST_LIBS) -lm
