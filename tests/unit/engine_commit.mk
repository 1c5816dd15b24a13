# SPDX-License-Identifier: GPL-2.0
# A MESSAGES channel committing each message as it arrives (commit_each,
# capture --watermark 1 for insoles) against the default batching.
# Recursive (=): the engine's lists come from engine.mk.
UNIT_TESTS += test_engine_commit
test_engine_commit_SRCS = tests/unit/test_engine_commit.c $(ENG_TEST_SRCS)
test_engine_commit_LDLIBS = $(ENG_TEST_LIBS)
