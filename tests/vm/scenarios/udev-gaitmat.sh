# SPDX-License-Identifier: GPL-2.0
# udev/70-gaitmat.rules with a real systemd-udevd: a mat announcing itself
# gets its chardev in group gaitcap (0660) and the sysfs attributes a
# capture writes handed to that group (gaitmat-sysfs-access), so a capture
# run as user gaitcap, without any capability, records; without the rules
# the same capture is refused. The device is tagged for systemd and wants
# gaitcap.service; a site rule marking a serial port starts
# gaitmat-attach@PORT.service. docs/operating.md. Prints TAP.
. /lab/lib.sh
UDEVD=/usr/lib/systemd/systemd-udevd
[ -x $UDEVD ] || UDEVD=/lib/systemd/systemd-udevd
[ -x $UDEVD ] || lab_skip "systemd-udevd not in the guest (lab --tool)"
command -v gaitcap >/dev/null || lab_skip "gaitcap not built"
command -v gaitmat-sim >/dev/null || lab_skip "gaitmat-sim not built"
[ -e /dev/gaitmat-virt ] || lab_skip "no /dev/gaitmat-virt (gaitmat_virt not loaded)"
[ -f /lab/udev/70-gaitmat.rules.in ] || lab_skip "udev/ not in the guest"
# util-linux's setpriv (busybox's cannot change ids).
[ -x /usr/bin/setpriv ] && /usr/bin/setpriv --help | grep -q reuid ||
	lab_skip "util-linux setpriv not in the guest (lab --tool)"

D=/tmp/udev
mkdir -p $D /etc/udev/rules.d /var/lib/gaitcap/sessions
# The user and group sysusers.d would make (uid/gid 990).
echo "root:x:0:0:root:/root:/bin/sh" >/etc/passwd
echo "gaitcap:x:990:990:gaitcap:/var/lib/gaitcap:/bin/false" >>/etc/passwd
printf 'root:x:0:\ndialout:x:20:\ngaitcap:x:990:\n' >/etc/group
chown 990:990 /var/lib/gaitcap/sessions
chmod 0750 /var/lib/gaitcap/sessions
as_gaitcap() {
	/usr/bin/setpriv --reuid=990 --regid=990 --clear-groups "$@"
}
dev_of() {
	for d in /sys/bus/iio/devices/iio:device*; do
		[ "$(cat $d/name 2>/dev/null)" = gaitmat ] && { basename $d; return 0; }
	done
	return 1
}
wait_dev() {
	n=0
	until dev_of >/dev/null; do
		[ $n -ge 100 ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
}
capture_as_gaitcap() {
	as_gaitcap gaitcap capture -o /var/lib/gaitcap/sessions/$1.gcs --duration 2 \
		--status 0 --subject LAB-01 --control none >$D/$1.log 2>&1
}

# Without the rules: udevd runs, nothing is handed to the group.
$UDEVD --daemon
gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 50 --duration 300 --quiet &
SIM=$!
wait_dev
udevadm settle
dev=$(dev_of)
lab_check "without the rules the chardev is root's only" \
	sh -c "[ \"\$(stat -c '%U %G %a' /dev/$dev)\" = 'root root 600' ]"
capture_as_gaitcap before
lab_check "without the rules a capture as user gaitcap is refused (permission)" \
	sh -c "! grep -q 'closed' $D/before.log && grep -q 'Permission denied' $D/before.log"
sed 's/^/# before: /' $D/before.log | head -3
kill $SIM
wait $SIM 2>/dev/null
udevadm settle

# With them (a real install puts the helper in udev's own folder).
mkdir -p /usr/lib/udev
sed 's|@UDEVDIR@|/usr/lib/udev|g' /lab/udev/70-gaitmat.rules.in >/etc/udev/rules.d/70-gaitmat.rules
cp /lab/udev/gaitmat-sysfs-access /usr/lib/udev/gaitmat-sysfs-access
chmod 0755 /usr/lib/udev/gaitmat-sysfs-access
udevadm control --reload
gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --rate 50 --duration 300 --quiet &
SIM=$!
wait_dev
udevadm settle
dev=$(dev_of)
sys=$(readlink -f /sys/bus/iio/devices/$dev)
lab_check "the chardev is root:gaitcap 0660" \
	sh -c "[ \"\$(stat -c '%U %G %a' /dev/$dev)\" = 'root gaitcap 660' ]"
for a in buffer/enable buffer/length buffer/watermark sampling_frequency \
	current_timestamp_clock scan_elements/in_timestamp_en; do
	lab_check "$a is group gaitcap, group-writable" \
		sh -c "[ \"\$(stat -c '%G %A' $sys/$a)\" = 'gaitcap -rw-rw-r--' ]"
done
lab_check "every scan element's _en is the group's" \
	sh -c "for f in $sys/scan_elements/*_en; do [ \"\$(stat -c %G \$f)\" = gaitcap ] || exit 1; done"
lab_check "other attributes stay root's (serialnumber, zeroing)" \
	sh -c "[ \"\$(stat -c %G $sys/serialnumber)\" = root ] && [ \"\$(stat -c %G $sys/zeroing)\" = root ]"
udevadm info -q property -p $sys >$D/props
lab_check "the device is tagged for systemd" grep -q '^TAGS=.*:systemd:' $D/props
lab_check "the device wants gaitcap.service" grep -q '^SYSTEMD_WANTS=.*gaitcap.service' $D/props
capture_as_gaitcap after
lab_check "a capture as user gaitcap (no capability) records and closes" \
	grep -q 'closed' $D/after.log
sed 's/^/# after: /' $D/after.log | tail -3
lab_check "the session is 0640 gaitcap:gaitcap" \
	sh -c "[ \"\$(stat -c '%U %G %a' /var/lib/gaitcap/sessions/after.gcs)\" = 'gaitcap gaitcap 640' ]"
lab_check "gaitcap info reads it back with scans" \
	sh -c "gaitcap info /var/lib/gaitcap/sessions/after.gcs | grep -q 'integrity   OK'"
# The helper's part is needed: one attribute given back to root, refused.
chgrp root $sys/buffer/enable
capture_as_gaitcap without_enable
lab_check "with buffer/enable root's again, the same capture is refused" \
	sh -c "! grep -q 'closed' $D/without_enable.log && grep -q 'Permission denied' $D/without_enable.log"
sed 's/^/# without_enable: /' $D/without_enable.log | head -2
lab_check "the helper refuses a path that is not a gaitmat IIO device" \
	sh -c "! /usr/lib/udev/gaitmat-sysfs-access /sys/devices/virtual/misc/gaitmat-virt 2>/dev/null"
kill $SIM
wait $SIM 2>/dev/null

# A USB-serial mat marked by a site rule (here the guest's second UART stands
# in for the bridge): the port wants gaitmat-attach@PORT.service.
tty=ttyS1
[ -e /sys/class/tty/ttyS2 ] || lab_skip "no ttyS1/ttyS2 in the guest"
echo "SUBSYSTEM==\"tty\", KERNEL==\"$tty\", ENV{GAITMAT_ATTACH}=\"1\"" \
	>/etc/udev/rules.d/69-gaitmat-local.rules
udevadm control --reload
udevadm trigger --action=add /sys/class/tty/$tty
udevadm settle
udevadm info -q property -p /sys/class/tty/$tty >$D/tty
lab_check "a port marked GAITMAT_ATTACH=1 wants gaitmat-attach@$tty.service" \
	grep -q "^SYSTEMD_WANTS=.*gaitmat-attach@$tty.service" $D/tty
lab_check "an unmarked port wants nothing of ours" \
	sh -c "! udevadm info -q property -p /sys/class/tty/ttyS2 | grep -q gaitmat"
udevadm control --exit
lab_done
