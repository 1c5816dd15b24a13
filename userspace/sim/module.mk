# SPDX-License-Identifier: GPL-2.0
# gaitmat-sim: the gait mat controller emulator (docs/simulator.md).
# libgaitsim holds the walking model, the controller and the faults; the
# program adds options and I/O. The wire codec is the driver's own file.
LIBS += gaitsim
gaitsim_SRCS := userspace/sim/sim_rng.c userspace/sim/gait_model.c \
	userspace/sim/faults.c userspace/sim/mat_ctrl.c \
	userspace/sim/sim_truth.c userspace/sim/insole_model.c

PROGS += gaitmat-sim
gaitmat-sim_SRCS := userspace/sim/gaitmat_sim.c driver/gaitmat_proto.c
gaitmat-sim_LIBS := gaitsim
gaitmat-sim_LDLIBS := -ljson-c -lm

# gaitinsole-sim: one BLE insole (docs/simulator.md), a real LE peripheral:
# mgmt advertising, an L2CAP ATT server, the insole model or a replay.
PROGS += gaitinsole-sim
gaitinsole-sim_SRCS := userspace/sim/gaitinsole_sim.c userspace/sim/insole_srv.c \
	userspace/sim/insole_replay.c userspace/sim/ble_mgmt.c driver/gaitmat_proto.c
gaitinsole-sim_LIBS := gaitsim
gaitinsole-sim_LDLIBS := -lm
