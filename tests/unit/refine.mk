# SPDX-License-Identifier: GPL-2.0
# gaitcap refine against gaitcap synth's ground truth (docs/gait-parameters.md),
# and damaged input. The library, synth and the session format are built in.
UNIT_TESTS += test_refine
test_refine_SRCS := tests/unit/test_refine.c \
	$(addprefix userspace/refine/, refine.c clockfit.c insole.c mat.c outq.c params.c) \
	$(addprefix userspace/gaitcap/, cli.c cmd_synth.c cmd_refine.c) \
	userspace/sim/gait_model.c userspace/sim/sim_rng.c userspace/sim/insole_model.c \
	$(addprefix userspace/session/, crc32c.c format.c meta.c writer.c reader.c recover.c) \
	tests/unit/test_session_util.c
test_refine_LDLIBS := -lgsl -lgslcblas -ljson-c -lzstd -lxxhash -lpthread -lm \
	-Wl,--wrap=pthread_create -Wl,--wrap=json_object_to_json_string_ext
