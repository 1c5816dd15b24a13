# SPDX-License-Identifier: GPL-2.0
# libgcqc: importers (Moticon OpenGo), signal-quality checks and the HTML
# report (docs/qc.md, docs/import-moticon.md). Reads and writes sessions
# through libgcsession only; never touches a device.
LIBS += gcqc
gcqc_SRCS := $(addprefix userspace/qc/, moticon.c import.c qc.c qhist.c series.c qc_json.c report.c out.c)
gcqc_LDLIBS := -lcairo -lgsl -lgslcblas -ljson-c -lm

# gaitcap import and gaitcap qc: added to the gaitcap program from here
# (module.mk files are read in order, gaitcap/ first; the rules are made
# after all of them are read).
gaitcap_SRCS += $(addprefix userspace/gaitcap/, cmd_import.c cmd_qc.c)
gaitcap_LIBS := gcqc $(gaitcap_LIBS)
gaitcap_LDLIBS += $(gcqc_LDLIBS)
