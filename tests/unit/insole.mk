# SPDX-License-Identifier: GPL-2.0
# The insole model (userspace/sim/insole_model.c): force, swing zero,
# heel-to-toe roll, saturation, IMU, clock mapping, determinism.
UNIT_TESTS += test_insole_model
test_insole_model_SRCS := tests/unit/test_insole_model.c \
	userspace/sim/sim_rng.c userspace/sim/gait_model.c \
	userspace/sim/mat_ctrl.c userspace/sim/faults.c \
	userspace/sim/insole_model.c driver/gaitmat_proto.c
test_insole_model_LDLIBS := -lm

# The simulator's ATT server: byte scripts over socketpair(SOCK_SEQPACKET).
UNIT_TESTS += test_insole_srv
test_insole_srv_SRCS := tests/unit/test_insole_srv.c userspace/sim/insole_srv.c \
	userspace/sim/sim_rng.c userspace/sim/gait_model.c \
	userspace/sim/mat_ctrl.c userspace/sim/faults.c \
	userspace/sim/insole_model.c driver/gaitmat_proto.c
test_insole_srv_LDLIBS := -lm
