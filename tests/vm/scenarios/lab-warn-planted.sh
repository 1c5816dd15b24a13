# SPDX-License-Identifier: GPL-2.0
# Test of the lab: lab_warn.ko plant=warn makes its init WARN(). The module
# still loads and this script exits 0, so only the lab's scan of the kernel
# log can fail the run; tests/vm/labtest checks that it does, naming the
# WARNING and this scenario.
[ -f /lab/modules/lab_warn.ko ] || { echo "SKIP: lab_warn.ko not built for $LAB_KVER"; exit 4; }
insmod /lab/modules/lab_warn.ko plant=warn
echo "insmod plant=warn returned $?"
rmmod lab_warn
exit 0
