# SPDX-License-Identifier: GPL-2.0
# Test of the lab: lab_warn.ko plant=bug hits BUG() in its init; the kernel
# oopses and kills insmod. The script still exits 0. Run it last in a boot:
# the half-loaded module stays behind.
[ -f /lab/modules/lab_warn.ko ] || { echo "SKIP: lab_warn.ko not built for $LAB_KVER"; exit 4; }
insmod /lab/modules/lab_warn.ko plant=bug
echo "insmod plant=bug returned $?"
exit 0
