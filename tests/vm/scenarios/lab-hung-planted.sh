# SPDX-License-Identifier: GPL-2.0
# Test of the lab: lab_warn.ko plant=hung blocks insmod in an uninterruptible
# sleep for 6 s while the hung task timeout is 2 s, so the kernel reports
# "INFO: task insmod ... blocked". The script itself succeeds.
[ -f /lab/modules/lab_warn.ko ] || { echo "SKIP: lab_warn.ko not built for $LAB_KVER"; exit 4; }
old=$(cat /proc/sys/kernel/hung_task_timeout_secs)
echo 2 >/proc/sys/kernel/hung_task_timeout_secs
insmod /lab/modules/lab_warn.ko plant=hung hang_ms=6000
echo "insmod plant=hung returned $?"
echo "$old" >/proc/sys/kernel/hung_task_timeout_secs
rmmod lab_warn
exit 0
