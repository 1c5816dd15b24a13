# SPDX-License-Identifier: GPL-2.0
# libiio as a client of the gaitmat driver (tests/selftests/gaitmat/
# gaitmat_libiio.c): iio_info lists the device and its channels, iio_readdev
# captures an emulator walk byte for byte, a live emulator walk comes out
# whole. Prints the harness's TAP.
[ -x /lab/selftests/gaitmat/gaitmat_libiio ] || { echo "SKIP: selftests not built (make -C tests/selftests)"; exit 4; }
exec /lab/selftests/gaitmat/gaitmat_libiio
