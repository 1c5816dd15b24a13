# SPDX-License-Identifier: GPL-2.0
# gaitmat-sim: the walking model, and the emulated controller decoded back
# through the driver's codec (faults, determinism, link budget, commands).
SIM_LIB_SRCS := userspace/sim/sim_rng.c userspace/sim/gait_model.c \
	userspace/sim/faults.c userspace/sim/mat_ctrl.c \
	userspace/sim/sim_truth.c driver/gaitmat_proto.c \
	tests/unit/test_sim_util.c

UNIT_TESTS += test_sim_model test_sim
test_sim_model_SRCS := tests/unit/test_sim_model.c $(SIM_LIB_SRCS)
test_sim_model_LDLIBS := -ljson-c -lm
test_sim_SRCS := tests/unit/test_sim.c $(SIM_LIB_SRCS)
test_sim_LDLIBS := -ljson-c -lm
