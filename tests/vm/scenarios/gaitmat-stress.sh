# SPDX-License-Identifier: GPL-2.0
# gaitmat life-cycle stress (tests/selftests/gaitmat/gaitmat_stress.c):
# 100 unbinds and 100 controller losses while a reader is blocked in
# read(), unbinding during poll() and during a sysfs command. The lab fails
# the run on any kernel report. Prints the harness's TAP.
[ -x /lab/selftests/gaitmat/gaitmat_stress ] || { echo "SKIP: selftests not built (make -C tests/selftests)"; exit 4; }
exec /lab/selftests/gaitmat/gaitmat_stress
