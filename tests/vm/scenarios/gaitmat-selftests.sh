# SPDX-License-Identifier: GPL-2.0
# The gaitmat driver's kselftests (tests/selftests/gaitmat/gaitmat_test.c):
# sysfs ABI, commands, byte-exact capture, scan size against libiio,
# buffer length limits, exact counters under faults, overload, life cycle.
# Prints the harness's TAP.
[ -x /lab/selftests/gaitmat/gaitmat_test ] || { echo "SKIP: selftests not built (make -C tests/selftests)"; exit 4; }
exec /lab/selftests/gaitmat/gaitmat_test
