# SPDX-License-Identifier: GPL-2.0
# gaitcap devices' advertising parser (userspace/ble/adv.c): which decoder
# an advertisement means, names, and truncated, broken or hostile data.
UNIT_TESTS += test_devices
test_devices_SRCS := tests/unit/test_devices.c userspace/ble/adv.c
