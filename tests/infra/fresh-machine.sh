#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/infra/fresh-machine.sh: the README's two commands on a machine
# without kernel headers (docs/lab.md, "Fresh machines"). In a private mount
# namespace /usr/src and /lib/modules are empty tmpfs when make starts; the
# `deps` step (INSTALL_DEPS, standing in for scripts/install-deps.sh) then
# bind-mounts the real ones back, as apt-get would install them. Then
#   make demo   (DEMO, standing in for the lab boot, checks what it was given)
#   make check  (CHECK_TESTS, standing in for tests/, does the same as a suite)
# must build the driver for both kernels, and no make level may pass an
# empty KDIR_61/KDIR_612 down. Anything read before deps ran shows here as
# "no kernel headers found" or a missing kernel. Prints TAP.
set -u
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "ok 1 - fresh machine # SKIP needs root and unshare -m (a private mount namespace)"
	echo "1..1"
	exit 0
fi
series="6.1 6.12"
for s in $series; do
	"$top/scripts/kdir" "$s" >/dev/null || {
		echo "not ok 1 - headers for $s installed, to hide and bring back"
		echo "1..1"
		exit 1
	}
done

mkdir -p "$scratch/real-src" "$scratch/real-mod" "$scratch/build-demo" "$scratch/build-check"
# What `deps` does here: the packages "arrive" (and it notes that they
# were missing when it started, so the test cannot pass vacuously).
cat >"$scratch/deps" <<DEPS
#!/bin/sh
ls -d /usr/src/linux-headers-* >/dev/null 2>&1 && echo "headers present before deps" >>"$scratch/deps.log"
mount --bind "$scratch/real-src" /usr/src && mount --bind "$scratch/real-mod" /lib/modules
echo "deps ran" >>"$scratch/deps.log"
DEPS
# What the lab (demo) and the suites (check) are given: modules of both
# kernels built, no empty header variable in the environment, each header
# tree found when looked up (scripts/kdir, as the tests and the lab do).
cat >"$scratch/probe" <<PROBE
#!/bin/bash
set -u
b=\$BUILD
rc=0 i=0
t() { i=\$((i + 1)); if [ "\$1" = 0 ]; then echo "ok \$i - \$2"; else echo "not ok \$i - \$2"; rc=1; fi; }
for s in $series; do
	k=\$("$top/scripts/kdir" \$s) || { t 1 "\$s: headers found when the tests run"; continue; }
	kver=\${k#/usr/src/linux-headers-}
	ko=\$(ls "\$b/driver/\$kver"/*.ko 2>/dev/null | wc -l)
	[ "\$ko" -ge 3 ]; t \$? "modules built for \$kver (\$ko .ko)"
done
! env | grep -E '^KDIR_6(1|12)=\$'; t \$? "no empty KDIR variable passed down"
echo "1..\$i"
exit \$rc
PROBE
chmod +x "$scratch/deps" "$scratch/probe"

ns() {	# ns SCRIPT: bash SCRIPT in a private mount namespace, headers hidden
	unshare -m --propagation private bash -c '
		set -e
		mount --bind /usr/src "$1/real-src"
		mount --bind /lib/modules "$1/real-mod"
		mount -t tmpfs fresh-src /usr/src
		mount -t tmpfs fresh-mod /lib/modules
		shift
		eval "$1"' - "$scratch" "$1"
}

# The README's first command. Only the header trees are hidden: the make
# that reads the Makefiles must not have looked at them.
: >"$scratch/deps.log"
ns "env -u KDIR_61 -u KDIR_612 -u KDIRS make -C '$top' --no-print-directory \
	BUILD='$scratch/build-demo' INSTALL_DEPS='$scratch/deps' DEMO='$scratch/probe' demo" \
	>"$scratch/demo.log" 2>&1
rc=$?
ok "make demo: deps found no headers (they were hidden)" sh -c "grep -q 'deps ran' $scratch/deps.log && ! grep -q 'present before' $scratch/deps.log"
ok "make demo succeeds the first time (exit $rc)" test $rc = 0
ok "make demo: the driver built for each kernel, no empty KDIR passed down" \
	sh -c "! grep -q '^not ok' $scratch/demo.log && [ \$(grep -c '^ok [0-9]' $scratch/demo.log) = 3 ]"
[ $rc = 0 ] || sed 's/^/# demo: /' "$scratch/demo.log" | tail -n 20

# The second one: make check, with a single stand-in suite.
: >"$scratch/deps.log"
ns "env -u KDIR_61 -u KDIR_612 -u KDIRS -u CI make -C '$top' --no-print-directory \
	BUILD='$scratch/build-check' INSTALL_DEPS='$scratch/deps' \
	CHECK_TESTS='$top/scripts/suite fresh-probe $scratch/probe' check" \
	>"$scratch/check.log" 2>&1
rc=$?
ok "make check: deps found no headers (they were hidden)" sh -c "grep -q 'deps ran' $scratch/deps.log && ! grep -q 'present before' $scratch/deps.log"
ok "make check succeeds the first time (exit $rc)" test $rc = 0
ok "make check: the build did not fail" test ! -e "$scratch/build-check/results/build"
ok "make check: its suite saw both kernels' modules" \
	grep -q '^check: 3 passed, 0 failed, 0 skipped' "$scratch/check.log"
[ $rc = 0 ] || sed 's/^/# check: /' "$scratch/check.log" | tail -n 20
ok "the machine's own /usr/src was never touched" "$top/scripts/kdir" 6.12
done_tap
