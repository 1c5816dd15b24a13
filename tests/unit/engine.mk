# SPDX-License-Identifier: GPL-2.0
# The io_uring capture engine (docs/capture.md), on pipes, sockets and files.
# The engine and the session library are built into each test with the
# sanitizers, like the test itself.
ENG_TEST_SRCS := $(addprefix userspace/engine/, \
	ring.c engine.c chan.c compact.c control.c src_fd.c) \
	$(addprefix userspace/session/, \
	crc32c.c format.c meta.c writer.c reader.c recover.c) \
	tests/unit/test_session_util.c tests/unit/test_engine_util.c
ENG_TEST_LIBS := -luring -lpthread -ljson-c -lzstd -lxxhash

UNIT_TESTS += test_engine
# fallocate() is wrapped to play a filesystem that fills up,
# io_uring_submit_and_wait_timeout() a ring that fails, and
# gcs_writer_sync_begin() to hand the ring a descriptor fsync fails on.
test_engine_SRCS := tests/unit/test_engine.c $(ENG_TEST_SRCS)
test_engine_LDLIBS := $(ENG_TEST_LIBS) -Wl,--wrap=fallocate \
	-Wl,--wrap=io_uring_submit_and_wait_timeout \
	-Wl,--wrap=gcs_writer_sync_begin

# Process crash: a child capturing a pipe is killed with SIGKILL at random
# instants; recovery must keep every record it had committed.
UNIT_TESTS += test_engine_crash
test_engine_crash_SRCS := tests/unit/test_engine_crash.c $(ENG_TEST_SRCS)
test_engine_crash_LDLIBS := $(ENG_TEST_LIBS)

# The engine's layers: the ring layer alone, and a stop asked for inside a
# completion (queued, carried out after the callback returns).
UNIT_TESTS += test_engine_layers
test_engine_layers_SRCS := tests/unit/test_engine_layers.c $(ENG_TEST_SRCS)
test_engine_layers_LDLIBS := $(ENG_TEST_LIBS)
