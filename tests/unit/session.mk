# SPDX-License-Identifier: GPL-2.0
# Session format tests (docs/session-format.md). The library's sources are
# built into each test with the sanitizers, like the test itself.
GCS_TEST_SRCS := $(addprefix userspace/session/, \
	crc32c.c format.c meta.c writer.c reader.c recover.c) \
	tests/unit/test_session_util.c
GCS_TEST_LIBS := -ljson-c -lzstd -lxxhash -lpthread

UNIT_TESTS += test_session_format test_session_recover test_session_writer \
	test_session_cli
test_session_format_SRCS := tests/unit/test_session_format.c $(GCS_TEST_SRCS)
test_session_format_LDLIBS := $(GCS_TEST_LIBS)
test_session_recover_SRCS := tests/unit/test_session_recover.c $(GCS_TEST_SRCS)
test_session_recover_LDLIBS := $(GCS_TEST_LIBS)
# fallocate() is wrapped to play a filesystem that fills up, fdatasync() a
# failing disk and ZSTD_compressStream2() a compressor whose output is bad.
test_session_writer_SRCS := tests/unit/test_session_writer.c $(GCS_TEST_SRCS)
test_session_writer_LDLIBS := $(GCS_TEST_LIBS) -luring -Wl,--wrap=fallocate \
	-Wl,--wrap=fdatasync -Wl,--wrap=ZSTD_compressStream2
# The gaitcap subcommands that own session files, called in-process.
GAITCAP_FILE_CMDS := $(addprefix userspace/gaitcap/, cli.c cmd_info.c cmd_recover.c cmd_synth.c) \
	userspace/sim/gait_model.c userspace/sim/sim_rng.c userspace/sim/insole_model.c
test_session_cli_SRCS := tests/unit/test_session_cli.c $(GCS_TEST_SRCS) $(GAITCAP_FILE_CMDS)
test_session_cli_LDLIBS := $(GCS_TEST_LIBS) -lm
# Damage and salvage: the reader's resync, recover's rules, hostile input.
UNIT_TESTS += test_session_salvage
test_session_salvage_SRCS := tests/unit/test_session_salvage.c $(GCS_TEST_SRCS) $(GAITCAP_FILE_CMDS)
test_session_salvage_LDLIBS := $(GCS_TEST_LIBS) -lm
