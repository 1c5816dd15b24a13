# SPDX-License-Identifier: GPL-2.0
# librefine: sessions to gait events and parameters (docs/gait-parameters.md).
# Users link it with $(gcrefine_LDLIBS).
LIBS += gcrefine
gcrefine_SRCS := $(addprefix userspace/refine/, \
	refine.c clockfit.c insole.c mat.c outq.c params.c)
gcrefine_LDLIBS := -lgsl -lgslcblas -ljson-c -lpthread -lm
