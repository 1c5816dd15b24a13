# SPDX-License-Identifier: GPL-2.0
# The command line as a new user meets it (docs/operating.md): refusals that
# name the option, metadata built with json-c, info over several files, and
# every tool's --help against the docs. gaitmat-attach's and gaitmat-sim's
# main() are renamed so that the test can call them in a child.
CLI_TEST_SRCS := \
	$(addprefix userspace/gaitcap/, cli.c cmd_capture.c cmd_mark.c \
		cmd_info.c cmd_recover.c cmd_synth.c) \
	$(addprefix userspace/engine/, ring.c engine.c chan.c compact.c control.c \
		src_fd.c src_iio.c) \
	$(addprefix userspace/session/, crc32c.c format.c meta.c writer.c \
		reader.c recover.c) \
	userspace/attach/gaitmat_attach.c userspace/sim/gaitmat_sim.c \
	$(addprefix userspace/sim/, sim_rng.c gait_model.c faults.c mat_ctrl.c \
		sim_truth.c) \
	$(addprefix userspace/sim/, gaitinsole_sim.c insole_srv.c \
		insole_replay.c ble_mgmt.c insole_model.c) \
	driver/gaitmat_proto.c tests/unit/test_session_util.c
# The insole source and libgaitble (gaitcap capture --insole).
CLI_TEST_SRCS += userspace/engine/src_ble.c $(GAITBLE_TEST_SRCS)
# gaitcap devices (its mgmt helpers, ble_mgmt.c, are above).
CLI_TEST_SRCS += userspace/gaitcap/cmd_devices.c userspace/ble/adv.c

UNIT_TESTS += test_gaitcap_cli
test_gaitcap_cli_SRCS := tests/unit/test_gaitcap_cli.c $(CLI_TEST_SRCS)
# sched_setscheduler() wrapped: --rt-priority refused as without CAP_SYS_NICE.
test_gaitcap_cli_LDLIBS := -luring -liio -lpthread -ljson-c -lzstd -lxxhash -lm \
	-Wl,--wrap=sched_setscheduler

$(BUILD)/obj/unit/userspace/attach/gaitmat_attach.o: CPPFLAGS_COMMON += \
	-Dmain=attach_main -Dargp_program_version=attach_argp_version
$(BUILD)/obj/unit/userspace/sim/gaitmat_sim.o: CPPFLAGS_COMMON += \
	-Dmain=sim_main -Dargp_program_version=sim_argp_version
$(BUILD)/obj/unit/tests/unit/test_gaitcap_cli.o: CPPFLAGS_COMMON += \
	-DTOP_DIR='"$(TOP)"'
$(BUILD)/obj/unit/userspace/sim/gaitinsole_sim.o: CPPFLAGS_COMMON += \
	-Dmain=insole_sim_main -Dargp_program_version=insole_argp_version
