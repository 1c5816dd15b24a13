# SPDX-License-Identifier: GPL-2.0
# gaitcap refine on the real Moticon OpenGo fixture, imported with gaitcap
# import: its labelled events, clinical ranges, held samples
# (docs/gait-parameters.md, "The Moticon fixture").
UNIT_TESTS += test_refine_moticon
test_refine_moticon_SRCS := tests/unit/test_refine_moticon.c \
	$(addprefix userspace/refine/, refine.c clockfit.c insole.c mat.c outq.c params.c) \
	$(addprefix userspace/qc/, moticon.c import.c) \
	$(addprefix userspace/gaitcap/, cli.c cmd_import.c) \
	$(addprefix userspace/session/, crc32c.c format.c meta.c writer.c reader.c recover.c) \
	tests/unit/test_session_util.c
test_refine_moticon_LDLIBS := -lgsl -lgslcblas -ljson-c -lzstd -lxxhash -lpthread -lm
$(BUILD)/obj/unit/tests/unit/test_refine_moticon.o: CPPFLAGS_COMMON += -DTOP_DIR='"$(TOP)"'
