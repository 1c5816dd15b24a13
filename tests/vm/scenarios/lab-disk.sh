# SPDX-License-Identifier: GPL-2.0
# lab --disk IMG: the image is an ext4 file system on /dev/vda mounted on
# /mnt/disk. Writes /lab-disk-probe into it so that tests/vm/labtest can
# read it back from the image on the host. Prints TAP.
. /lab/lib.sh
[ "$LAB_DISK" = 1 ] || lab_skip "needs lab --disk IMG"

lab_check "/dev/vda is a block device" test -b /dev/vda
lab_check "ext4 mounted on /mnt/disk" grep -q '^/dev/vda /mnt/disk ext4 ' /proc/mounts
lab_check "file written and synced" \
	sh -c 'echo "lab-disk-probe $LAB_KVER" >/mnt/disk/lab-disk-probe && sync'
lab_check "file reads back" grep -q "lab-disk-probe $LAB_KVER" /mnt/disk/lab-disk-probe
lab_done
