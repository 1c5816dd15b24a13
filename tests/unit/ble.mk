# SPDX-License-Identifier: GPL-2.0
# The ATT/GATT client on a plain fd and the insole connect sequence
# (byte scripts over socketpair), and the insole decoders.
GAITBLE_TEST_SRCS := $(addprefix userspace/ble/, att.c gatt.c insole_link.c \
	insole_desc.c dec_registry.c dec_gaitcap_v1.c dec_fff0.c)

UNIT_TESTS += test_att
test_att_SRCS := tests/unit/test_att.c $(GAITBLE_TEST_SRCS)
test_att_LDLIBS := -lm

UNIT_TESTS += test_insole_dec
test_insole_dec_SRCS := tests/unit/test_insole_dec.c \
	$(addprefix userspace/ble/, insole_desc.c dec_registry.c \
	dec_gaitcap_v1.c dec_fff0.c)
test_insole_dec_LDLIBS := -lm
