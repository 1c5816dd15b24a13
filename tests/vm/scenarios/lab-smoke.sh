# SPDX-License-Identifier: GPL-2.0
# The lab boots and is what it claims: the guest runs the kernel we asked
# for, the file systems are mounted, the in-tree module group "base" is
# loaded, busybox and kmod work, and our tools and modules are where the
# build put them. Prints TAP.
. /lab/lib.sh

lab_check "running kernel is $LAB_KVER" test "$(uname -r)" = "$LAB_KVER"
lab_check "/proc mounted" test -r /proc/self/status
lab_check "sysfs mounted" test -d /sys/class
lab_check "devtmpfs mounted" test -c /dev/null
lab_check "debugfs mounted" grep -q ' /sys/kernel/debug debugfs ' /proc/mounts
lab_check "tmpfs on /tmp is writable" sh -c 'echo x >/tmp/probe && rm /tmp/probe'
lab_check "busybox applets work" sh -c 'echo abc | sha256sum | grep -q ^edeaaff3'
lab_check "hung task timeout lowered" test "$(cat /proc/sys/kernel/hung_task_timeout_secs)" = "$LAB_HUNG_TIMEOUT"
lab_check "panic_on_warn off" test "$(cat /proc/sys/kernel/panic_on_warn)" = 0
for m in industrialio kfifo_buf industrialio_triggered_buffer; do
	lab_check "module $m listed by lsmod" sh -c "lsmod | grep -q '^$m '"
done
lab_check "iio bus registered" test -d /sys/bus/iio
lab_check "modprobe resolves dependencies (algif_hash pulls in af_alg)" \
	sh -c 'modprobe algif_hash && lsmod | grep -q "^af_alg " &&
		modprobe -r algif_hash af_alg'
lab_check "shared libraries resolve (iio_info)" sh -c 'iio_info -h >/dev/null 2>&1 || iio_info --help >/dev/null 2>&1 || iio_info -V'

# Our modules: present when the driver was built for this kernel.
if ls /lib/modules/"$LAB_KVER"/extra/*.ko >/dev/null 2>&1; then
	lab_check "our modules are known to modprobe" \
		sh -c 'for k in /lib/modules/$LAB_KVER/extra/*.ko; do n=${k##*/}; modinfo ${n%.ko} >/dev/null || exit 1; done'
	if [ -f /lab/load-order ] && [ "$LAB_LOAD" = 1 ]; then
		lab_check "our modules are loaded" \
			sh -c 'grep -v "^#" /lab/load-order | while read -r m _; do [ -z "$m" ] && continue; m=${m%.ko}; lsmod | grep -q "^$(echo $m | tr - _) " || exit 1; done'
	else
		lab_check_skip "our modules are loaded" "no build/driver/$LAB_KVER/load-order (or --no-load)"
	fi
else
	lab_check_skip "our modules are known to modprobe" "no build/driver/$LAB_KVER/*.ko yet"
	lab_check_skip "our modules are loaded" "no build/driver/$LAB_KVER/*.ko yet"
fi
if ls /opt/gaitcap/bin/* >/dev/null 2>&1; then
	lab_check "our tools are on PATH" sh -c 'for f in /opt/gaitcap/bin/*; do command -v ${f##*/} >/dev/null || exit 1; done'
else
	lab_check_skip "our tools are on PATH" "build/bin is empty (userspace not built yet)"
fi
lab_done
