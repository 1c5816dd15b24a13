# SPDX-License-Identifier: GPL-2.0
# gaitcap devices' advertising parser (userspace/ble/adv.c): which decoder
# an advertisement means, names, and truncated, broken or hostile data.
UNIT_TESTS += test_devices
test_devices_SRCS := tests/unit/test_devices.c userspace/ble/adv.c

# gaitcap devices against a scripted kernel: its mgmt socket is a
# socketpair (ble_mgmt_open() wrapped), the test plays the kernel.
UNIT_TESTS += test_devices_scan
test_devices_scan_SRCS := tests/unit/test_devices_scan.c \
	userspace/gaitcap/cmd_devices.c userspace/gaitcap/cli.c \
	userspace/sim/ble_mgmt.c userspace/ble/adv.c \
	userspace/session/format.c userspace/session/crc32c.c
test_devices_scan_LDLIBS := -Wl,--wrap=ble_mgmt_open -lxxhash
