# SPDX-License-Identifier: GPL-2.0
# gaitmat-attach: feeds a mat controller on a serial port (a USB-serial
# bridge) into the driver's virtual transport, as btattach does for HCI.
PROGS += gaitmat-attach
gaitmat-attach_SRCS := userspace/attach/gaitmat_attach.c
