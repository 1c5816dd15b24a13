# SPDX-License-Identifier: GPL-2.0
# libgcqc: importers (Moticon OpenGo), signal-quality checks and the HTML
# report (docs/qc.md, docs/import-moticon.md). Reads and writes sessions
# through libgcsession only; never touches a device.
LIBS += gcqc
gcqc_SRCS := $(addprefix userspace/qc/, moticon.c import.c qc.c qc_json.c report.c)
gcqc_LDLIBS := -lcairo -lgsl -lgslcblas -ljson-c -lm
