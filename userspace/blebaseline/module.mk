# SPDX-License-Identifier: GPL-2.0
# gaitcap-ble-baseline: the BLE bench's plain blocking recv() reader
# (tests/bench/ble_recv_baseline.c); bench code, built with the tools so
# that the lab copies it into the guest. Not installed.
PROGS += gaitcap-ble-baseline
gaitcap-ble-baseline_SRCS := tests/bench/ble_recv_baseline.c
