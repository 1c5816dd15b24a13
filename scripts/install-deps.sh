#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages gaitcap needs to build, test and run its lab.
# Idempotent: installs only what is missing, runs `apt-get update` at most once.
# docs/dependencies.md says why each package is here.
set -eu

KVER_612=${KVER_612:-6.12}

PKGS="
build-essential pkg-config cpio xz-utils kmod file
linux-headers-amd64 linux-source-6.1 bc bison flex libelf-dev
qemu-system-x86 busybox-static acpica-tools
libcmocka-dev libjson-c-dev libzstd-dev libxxhash-dev liburing-dev
libiio-dev libiio-utils
bluez bluez-test-tools e2fsprogs zstd dmsetup
sparse clang llvm libclang-rt-14-dev dkms
libbluetooth-dev
libgsl-dev
libcairo2-dev chromium
libbpf-dev bpftool systemtap-sdt-dev
debhelper dh-dkms lintian systemd udev groff-base libsystemd-dev libudev-dev
debootstrap
time
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

updated=0
apt_update() {
	if [ $updated -eq 0 ]; then
		apt-get update -qq
		updated=1
	fi
}

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

# The 6.12 headers from bookworm's archive (the kernel we also ship for).
if ! ls -d /usr/src/linux-headers-${KVER_612}.*+deb12-amd64 >/dev/null 2>&1; then
	apt_update
	pkg=$(apt-cache search --names-only "^linux-headers-${KVER_612}\.[0-9]+\+deb12-amd64\$" |
		awk '{print $1}' | sort -V | tail -n1)
	if [ -z "$pkg" ]; then
		echo "install-deps: no linux-headers-${KVER_612} package in the archive" >&2
		exit 1
	fi
	echo "install-deps: installing $pkg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg"
fi
# Guest kernels for the QEMU lab (tests/vm, docs/lab.md): for the newest
# installed linux-headers of each series we ship for, the linux-image package
# of exactly that release is downloaded and unpacked (never installed) into
# $KCACHE/<release>/ as vmlinuz + lib/modules/<release>/ (with a modules.dep
# of its own), so the lab never depends on what /boot holds.
KCACHE=${GAITCAP_KCACHE:-/var/cache/gaitcap/kernels}

# The lab boots the uncompressed ELF vmlinux through its PVH entry point:
# under TCG that skips decompressing the kernel in the guest, about 1-5 s a
# boot. Find the compressed payload inside the bzImage by its magic (xz for
# 6.1, zstd for 6.12) and keep the first candidate that unpacks to an ELF file.
extract_vmlinux() {
	for hit in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00|\x28\xb5\x2f\xfd' "$1" | head -n 8); do
		off=${hit%%:*}
		case $(tail -c +$((off + 1)) "$1" | head -c 4 | od -An -tx1 | tr -d ' ') in
		fd377a58) unpack="xz -dcq --single-stream" ;;
		*) unpack="zstd -dcq" ;;
		esac
		tail -c +$((off + 1)) "$1" | $unpack >"$2.tmp" 2>/dev/null || :
		if [ "$(head -c 4 "$2.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
			mv "$2.tmp" "$2"
			return 0
		fi
	done
	rm -f "$2.tmp"
	return 1
}
for series in 6.1 6.12; do
	hdr=$(ls -d /usr/src/linux-headers-${series}.*-amd64 2>/dev/null | sort -V | tail -n1)
	[ -n "$hdr" ] || continue
	kver=${hdr#/usr/src/linux-headers-}
	dest=$KCACHE/$kver
	[ -f "$dest/.complete" ] && continue
	echo "install-deps: unpacking guest kernel $kver into $dest"
	tmp=$(mktemp -d)
	if ! (cd "$tmp" && apt-get download -qq "linux-image-$kver" 2>/dev/null); then
		apt_update
		(cd "$tmp" && apt-get download -qq "linux-image-$kver")
	fi
	dpkg -x "$tmp"/linux-image-*.deb "$tmp/root"
	rm -rf "$dest"
	mkdir -p "$dest/lib/modules"
	cp "$tmp/root/boot/vmlinuz-$kver" "$dest/vmlinuz"
	mv "$tmp/root/lib/modules/$kver" "$dest/lib/modules/"
	depmod -b "$dest" "$kver"
	extract_vmlinux "$dest/vmlinuz" "$dest/vmlinux" ||
		echo "install-deps: no vmlinux in $kver's vmlinuz; the lab boots the slower vmlinuz" >&2
	rm -rf "$tmp"
	touch "$dest/.complete"
done
echo "install-deps: all present"
