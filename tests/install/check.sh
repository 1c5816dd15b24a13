#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install` into a scratch DESTDIR, then the DKMS source tree it laid
# down is built by dkms itself (private --dkmstree/--sourcetree, so the host's
# DKMS state is untouched) for every kernel we ship for. Prints TAP.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
n=0
fails=0
check() {
	local what=$1
	shift
	n=$((n + 1))
	if "$@" >"$scratch/log" 2>&1; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		tail -n 20 "$scratch/log" | sed 's/^/# /'
		fails=$((fails + 1))
	fi
}

dest=$scratch/root
check "make install DESTDIR=..." make -s -C "$top" install DESTDIR="$dest"
ver=$(sed -n 's/^#define GAITCAP_VERSION "\(.*\)"/\1/p' "$top/userspace/gaitcap/gaitcap.h")
for p in gaitcap gaitmat-sim gaitmat-attach; do
	check "$p installed and runs" "$dest/usr/bin/$p" --help
done
check "dkms.conf names version $ver" \
	grep -q "PACKAGE_VERSION=\"$ver\"" "$dest/usr/src/gaitmat-$ver/dkms.conf"
check "documentation installed" test -f "$dest/usr/share/doc/gaitcap/architecture.md"

for series in 6.1 6.12; do
	# Looked up here: no Makefile hands the header paths down any more.
	check "headers for $series installed" "$top/scripts/kdir" "$series"
	kdir=$("$top/scripts/kdir" "$series") || continue
	kver=${kdir#/usr/src/linux-headers-}
	tree=$scratch/dkms-$kver
	mkdir -p "$tree"
	check "dkms build for $kver" dkms build -m gaitmat -v "$ver" -k "$kver" \
		--sourcetree "$dest/usr/src" --dkmstree "$tree" --kernelsourcedir "$kdir"
	for m in gaitmat gaitmat_virt gaitmat_serdev; do
		# Debian's 6.12 compresses modules (.ko.xz); dkms follows it.
		check "dkms built $m.ko for $kver (vermagic matches)" \
			sh -c "modinfo -F vermagic $tree/gaitmat/$ver/$kver/x86_64/module/$m.ko* |
				grep -q '^$kver '"
	done
done
echo "1..$n"
exit $((fails > 0))
