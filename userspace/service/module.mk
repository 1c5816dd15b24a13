# SPDX-License-Identifier: GPL-2.0
# libgcsvc: gaitcap service (the appliance's capture daemon) and the
# protocol of its control socket (docs/operating.md). Users link it with
# $(gcsvc_LDLIBS), libgcengine and libgcsession.
LIBS += gcsvc
gcsvc_SRCS := $(addprefix userspace/service/, conf.c proto.c service.c)
gcsvc_LDLIBS := -lsystemd -ludev -ljson-c
