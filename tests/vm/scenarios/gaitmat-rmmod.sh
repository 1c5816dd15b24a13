# SPDX-License-Identifier: GPL-2.0
# The gaitmat modules unload once their users are gone, and not before:
# an open IIO chardev or buffer file pins the core, an open
# /dev/gaitmat-virt the virtual transport. Then they load again and work.
# Prints TAP.
. /lab/lib.sh
command -v gaitmat-sim >/dev/null || lab_skip "gaitmat-sim not built"
[ -x /lab/selftests/gaitmat/gaitmat_bufhold ] || lab_skip "selftests not built (make -C tests/selftests)"

iio_of_virt() {
	for d in /sys/devices/virtual/misc/gaitmat-virt/gaitmat-virt.*/iio:device*; do
		[ -e "$d" ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

wait_iio() {
	n=0
	until iio_of_virt >/dev/null; do
		[ $n -ge 100 ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
}

lab_check "our modules are loaded" sh -c 'lsmod | grep -q "^gaitmat " && lsmod | grep -q "^gaitmat_virt " && lsmod | grep -q "^gaitmat_serdev "'

gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --duration 60 --quiet &
sim=$!
lab_check "a controller plays through the virtual transport" wait_iio
dev=$(iio_of_virt)
lab_check "the virtual transport cannot go while a controller is open" sh -c '! rmmod gaitmat_virt 2>/dev/null'

# A reader holds the IIO device open, then the controller is unplugged.
exec 4<"/dev/$dev"
kill $sim
wait $sim 2>/dev/null
lab_check "the IIO device goes with its controller" sh -c "n=0; while [ -e /sys/bus/iio/devices/$dev ]; do [ \$n -ge 50 ] && exit 1; sleep 0.1; n=\$((n+1)); done"
lab_check "the core cannot go while a reader holds its IIO device" sh -c '! rmmod gaitmat 2>/dev/null'
lab_check "a read on the orphaned device says ENODEV" sh -c "dd bs=8320 count=1 <&4 2>&1 | grep -q 'No such device'"
exec 4<&-

lab_check "rmmod gaitmat_virt gaitmat_serdev gaitmat" rmmod gaitmat_virt gaitmat_serdev gaitmat
lab_check "nothing of gaitmat left" sh -c '! lsmod | grep -q "^gaitmat"'
lab_check "modprobe again" sh -c 'modprobe gaitmat_virt && modprobe gaitmat_serdev'
gaitmat-sim --out /dev/gaitmat-virt --tiles 1 --duration 60 --quiet &
sim=$!
lab_check "and a controller appears again" wait_iio
dev=$(iio_of_virt)

# The buffer's own file (IIO_BUFFER_GET_FD_IOCTL) outlives the chardev,
# the controller and the IIO device. It holds the buffer, whose code is in
# the core: the core must stay until the file is closed, and closing it
# then must not run unloaded code (the lab fails the run on the oops).
mkfifo /tmp/bufhold.in
/lab/selftests/gaitmat/gaitmat_bufhold "/dev/$dev" </tmp/bufhold.in >/tmp/bufhold.out 2>&1 &
hold=$!
exec 5>/tmp/bufhold.in
lab_check "a process holds only the buffer's file" sh -c 'n=0; until grep -q held /tmp/bufhold.out; do [ $n -ge 50 ] && { cat /tmp/bufhold.out; exit 1; }; sleep 0.1; n=$((n+1)); done'
kill $sim
wait $sim 2>/dev/null
lab_check "the IIO device goes with its controller" sh -c "n=0; while [ -e /sys/bus/iio/devices/$dev ]; do [ \$n -ge 50 ] && exit 1; sleep 0.1; n=\$((n+1)); done"
lab_check "the transports unload" rmmod gaitmat_virt gaitmat_serdev
lab_check "the core cannot go while the buffer's file is open" sh -c '! rmmod gaitmat 2>/dev/null'
echo >&5
exec 5>&-
wait $hold
held=$?
lab_check "closing the buffer's file" sh -c "[ $held -eq 0 ] && grep -q closed /tmp/bufhold.out"
lab_check "then the core unloads" rmmod gaitmat
lab_check "and loads again" sh -c 'modprobe gaitmat_virt && modprobe gaitmat_serdev'
lab_done
