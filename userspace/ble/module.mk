# SPDX-License-Identifier: GPL-2.0
# libgaitble: the ATT/GATT client on a plain fd, the insole connect
# sequence and the insole decoders (docs/protocols/insole-gatt.md).
# Users link it with $(gaitble_LDLIBS).
LIBS += gaitble
gaitble_SRCS := $(addprefix userspace/ble/, \
	att.c gatt.c insole_link.c insole_desc.c dec_registry.c \
	dec_gaitcap_v1.c dec_fff0.c)
# Advertising data -> name and decoder (gaitcap devices).
gaitble_SRCS += userspace/ble/adv.c
gaitble_LDLIBS := -lm
