# SPDX-License-Identifier: GPL-2.0
# Test of the lab: lab_warn.ko loaded without a plant logs nothing bad, so
# this scenario must pass (the control for lab-warn-planted).
[ -f /lab/modules/lab_warn.ko ] || { echo "SKIP: lab_warn.ko not built for $LAB_KVER"; exit 4; }
insmod /lab/modules/lab_warn.ko || exit 1
rmmod lab_warn || exit 1
echo "lab_warn loaded and unloaded cleanly"
