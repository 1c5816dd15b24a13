# SPDX-License-Identifier: GPL-2.0
# The Moticon importer and the quality checks (docs/import-moticon.md,
# docs/qc.md), with the session library built in under the sanitizers.
QC_SESSION_SRCS := $(addprefix userspace/session/, \
	crc32c.c format.c meta.c writer.c reader.c recover.c) \
	tests/unit/test_session_util.c
QC_LIBS := -ljson-c -lzstd -lxxhash -lpthread -lm

UNIT_TESTS += test_qc_import
test_qc_import_SRCS := tests/unit/test_qc_import.c $(QC_SESSION_SRCS) \
	$(addprefix userspace/qc/, moticon.c import.c) \
	$(addprefix userspace/gaitcap/, cli.c cmd_import.c)
test_qc_import_LDLIBS := $(QC_LIBS)
$(BUILD)/obj/unit/tests/unit/test_qc_import.o: CPPFLAGS_COMMON += -DTOP_DIR='"$(TOP)"'

# The checks, the JSON and the report, with synth, import and refine for input.
UNIT_TESTS += test_qc
# Recursive: GAITCAP_FILE_CMDS (session.mk, read after this file) brings
# cmd_synth.c with whatever it needs.
test_qc_SRCS = tests/unit/test_qc.c $(QC_SESSION_SRCS) \
	$(addprefix userspace/qc/, moticon.c import.c qc.c qhist.c series.c qc_json.c report.c out.c) \
	$(addprefix userspace/gaitcap/, cmd_import.c cmd_qc.c cmd_refine.c) $(GAITCAP_FILE_CMDS) \
	$(addprefix userspace/refine/, refine.c clockfit.c insole.c mat.c outq.c params.c)
test_qc_LDLIBS := -lcairo -lfontconfig -lgsl -lgslcblas $(QC_LIBS)
$(BUILD)/obj/unit/tests/unit/test_qc.o: CPPFLAGS_COMMON += -DTOP_DIR='"$(TOP)"'

# qc's bounded statistics and plot series against exact ones (docs/qc.md,
# "Memory and speed").
UNIT_TESTS += test_qc_bounded
test_qc_bounded_SRCS := tests/unit/test_qc_bounded.c \
	$(addprefix userspace/qc/, qhist.c series.c)
test_qc_bounded_LDLIBS := -lgsl -lgslcblas -lm
