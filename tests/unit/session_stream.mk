# SPDX-License-Identifier: GPL-2.0
# The reader's GCS_OPEN_STREAM (no per-chunk table) against the full table,
# on clean, compacted, crashed and damaged files (docs/gait-parameters.md,
# "Speed and memory").
UNIT_TESTS += test_session_stream
test_session_stream_SRCS := tests/unit/test_session_stream.c $(GCS_TEST_SRCS) \
	$(addprefix userspace/gaitcap/, cli.c cmd_synth.c) \
	userspace/sim/gait_model.c userspace/sim/sim_rng.c userspace/sim/insole_model.c
test_session_stream_LDLIBS := $(GCS_TEST_LIBS) -lm -Wl,--wrap=XXH64
