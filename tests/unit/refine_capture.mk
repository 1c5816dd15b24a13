# SPDX-License-Identifier: GPL-2.0
# refine takes an insole stream as gaitcap capture describes it (make demo
# refines a captured session), not only synth's description.
UNIT_TESTS += test_refine_capture
test_refine_capture_SRCS := tests/unit/test_refine_capture.c \
	$(addprefix userspace/refine/, refine.c clockfit.c insole.c mat.c outq.c params.c) \
	$(addprefix userspace/session/, crc32c.c format.c meta.c writer.c reader.c recover.c)
test_refine_capture_LDLIBS := -lgsl -lgslcblas -ljson-c -lzstd -lxxhash -lpthread -lm
