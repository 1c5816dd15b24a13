# SPDX-License-Identifier: GPL-2.0
# gaitcap: the appliance's command (info, recover, ...; synth for tests).
# (LDLIBS is recursive: session/module.mk is read after this file.)
PROGS += gaitcap
gaitcap_SRCS := $(addprefix userspace/gaitcap/, \
	main.c cli.c cmd_info.c cmd_recover.c cmd_synth.c cmd_capture.c cmd_mark.c \
	cmd_refine.c cmd_service.c cmd_session.c)
# gaitcap devices: mgmt LE discovery (the simulator's mgmt helpers).
gaitcap_SRCS += userspace/gaitcap/cmd_devices.c userspace/sim/ble_mgmt.c
gaitcap_LIBS := gcsvc gcrefine gcengine gaitble gcsession gaitsim
gaitcap_LDLIBS = $(gcsvc_LDLIBS) $(gcengine_LDLIBS) $(gcsession_LDLIBS) $(gcrefine_LDLIBS) \
	$(gaitble_LDLIBS) -ljson-c -lm
