# SPDX-License-Identifier: GPL-2.0
# The disk-time-left estimate under compaction (gcs_writer_space).
UNIT_TESTS += test_session_space
test_session_space_SRCS := tests/unit/test_session_space.c $(GCS_TEST_SRCS)
test_session_space_LDLIBS := $(GCS_TEST_LIBS)
