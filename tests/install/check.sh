#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The installation as a packager and an operator meet it (docs/operating.md,
# "Install an appliance"). Prints TAP.
#
#  - `make install DESTDIR=...` lays down exactly the tree docs/operating.md
#    lists ("Installed files"), units and rules pointing at the installed
#    tools; `make uninstall` removes every file of it and keeps an edited
#    appliance.conf; another PREFIX gives units that systemd-analyze verify
#    accepts as they are.
#  - the man pages render without warnings and name every command and option
#    the tools' --help shows, and every key of appliance.conf;
#  - systemd-analyze security --offline=true scores the units as the docs
#    say, and the docs explain each remaining exposure;
#  - the Debian packages build with dpkg-buildpackage from a copy of the
#    tree, hold the documented files (their contents are listed here), carry
#    the maintainer scripts that matter, and lintian has nothing to say;
#  - dkms (private trees: the host's DKMS state is untouched) builds the
#    installed DKMS source for each kernel we ship for, signed with DKMS's
#    MOK key.
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
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
# same FILE_A FILE_B: equal, or the difference shown.
same() {
	diff -u "$1" "$2"
}

ver=$(sed -n 's/^#define GAITCAP_VERSION "\(.*\)"/\1/p' "$top/userspace/gaitcap/gaitcap.h")
doc=$top/docs/operating.md

# ---- The documented tree -------------------------------------------------

# The block between the installed-files markers, <ver> filled in and the
# docs line expanded to every file of docs/.
sed -n '/<!-- installed-files: begin -->/,/<!-- installed-files: end -->/p' "$doc" |
	grep -v '^<!--\|^```' | awk '{print $1}' >"$scratch/doc-block"
{
	grep -v '^usr/share/doc/gaitcap/\*$' "$scratch/doc-block" | sed "s/<ver>/$ver/g"
	(cd "$top/docs" && find . -type f | sed 's|^\./|usr/share/doc/gaitcap/|')
} | LC_ALL=C sort >"$scratch/expected"
tree_of() {
	(cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort)
}

dest=$scratch/root
check "make install DESTDIR=..." make -s -C "$top" install DESTDIR="$dest"
tree_of "$dest" >"$scratch/installed"
check "the installed tree is the one docs/operating.md lists" \
	same "$scratch/expected" "$scratch/installed"
for p in gaitcap gaitmat-sim gaitmat-attach; do
	check "$p installed and runs" "$dest/usr/bin/$p" --help
done
check "dkms.conf names version $ver, AUTOINSTALL, the three modules" sh -c "
	c=$dest/usr/src/gaitmat-$ver/dkms.conf
	grep -qx 'PACKAGE_VERSION=\"$ver\"' \$c && grep -qx 'AUTOINSTALL=\"yes\"' \$c &&
	for m in gaitmat gaitmat_virt gaitmat_serdev; do
		grep -q \"BUILT_MODULE_NAME\\[[0-9]\\]=\\\"\$m\\\"\" \$c || exit 1
	done"
check "the units run the installed tools" sh -c "
	grep -qx 'ExecStart=/usr/bin/gaitcap service' $dest/lib/systemd/system/gaitcap.service &&
	grep -qx 'ExecStart=/usr/bin/gaitmat-attach /dev/%I' '$dest/lib/systemd/system/gaitmat-attach@.service'"
check "the rule runs the installed helper, which is executable" sh -c "
	grep -q 'RUN+=\"/lib/udev/gaitmat-sysfs-access %S%p\"' $dest/lib/udev/rules.d/70-gaitmat.rules &&
	test -x $dest/lib/udev/gaitmat-sysfs-access"
check "no @PLACEHOLDER@ left in an installed file" \
	sh -c "! grep -rl '@[A-Z]*@' $dest/lib $dest/etc $dest/usr/lib $dest/usr/src"
check "sysusers: user gaitcap; tmpfiles: the sessions folder 0750 gaitcap:gaitcap" sh -c "
	grep -q '^u gaitcap ' $dest/usr/lib/sysusers.d/gaitcap.conf &&
	grep -qx 'd /var/lib/gaitcap/sessions 0750 gaitcap gaitcap -' $dest/usr/lib/tmpfiles.d/gaitcap.conf"

# An edited conffile is the operator's: kept by install and by uninstall.
echo "site = EDITED" >>"$dest/etc/gaitcap/appliance.conf"
check "make install again keeps an edited appliance.conf" sh -c "
	make -s -C $top install DESTDIR=$dest && grep -qx 'site = EDITED' $dest/etc/gaitcap/appliance.conf"
check "make uninstall removes every file but the edited appliance.conf" sh -c "
	make -s -C $top uninstall DESTDIR=$dest &&
	[ \"\$(cd $dest && find . \\( -type f -o -type l \\) | sed 's|^\\./||')\" = etc/gaitcap/appliance.conf ]"
rm "$dest/etc/gaitcap/appliance.conf"
make -s -C "$top" install DESTDIR="$dest" >/dev/null 2>&1
make -s -C "$top" uninstall DESTDIR="$dest" >"$scratch/uninstall.log" 2>&1
check "after install + uninstall no file is left" \
	sh -c "[ -z \"\$(find $dest \\( -type f -o -type l \\))\" ]"
# Only folders shared with other packages may stay (empty); ours are gone.
check "our folders are gone (doc, DKMS source, /etc/gaitcap)" sh -c "
	! [ -e $dest/usr/share/doc/gaitcap ] && ! [ -e $dest/usr/src/gaitmat-$ver ] &&
	! [ -e $dest/etc/gaitcap ]"

# Another PREFIX: units and rules follow it, and systemd accepts the units.
pfx=$scratch/prefix
check "make install PREFIX=... (no DESTDIR)" make -s -C "$top" install PREFIX="$pfx/usr" \
	CONFDIR="$pfx/etc/gaitcap" DKMSDIR="$pfx/src/gaitmat-$ver"
cp "$pfx/usr/lib/systemd/system/gaitmat-attach@.service" "$scratch/gaitmat-attach@ttyUSB0.service"
check "systemd-analyze verify: the units, silent" sh -c "
	out=\$(systemd-analyze verify --man=no $pfx/usr/lib/systemd/system/gaitcap.service \
		$scratch/gaitmat-attach@ttyUSB0.service 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
check "PREFIX: the rule runs the helper under PREFIX" \
	grep -q "RUN+=\"$pfx/usr/lib/udev/gaitmat-sysfs-access" "$pfx/usr/lib/udev/rules.d/70-gaitmat.rules"
make -s -C "$top" uninstall PREFIX="$pfx/usr" CONFDIR="$pfx/etc/gaitcap" \
	DKMSDIR="$pfx/src/gaitmat-$ver" >/dev/null 2>&1
check "PREFIX: make uninstall leaves no file" sh -c "[ -z \"\$(find $pfx \\( -type f -o -type l \\))\" ]"

# ---- Man pages -------------------------------------------------------------

for m in "$top"/man/*.[158]; do
	check "man page ${m##*/} renders without a warning" sh -c "
		out=\$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 $m 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
done
bin=$top/build/bin
# long_opts CMD...: the long options a --help prints.
long_opts() {
	"$@" --help 2>&1 | grep -oE '(^|[ ,])--[a-z][a-z0-9-]*' | sed 's/^[ ,]*//' | sort -u
}
# mentions PAGE OPTION...: the page names each (written \-\- in troff).
mentions() {
	local page=$1 o missing=0
	shift
	for o in "$@"; do
		grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$page" ||
			{ echo "$page does not name $o"; missing=1; }
	done
	return $missing
}
cmds=$("$bin/gaitcap" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
check "gaitcap(1) has a section for every command of gaitcap --help" sh -c "
	for c in $(echo $cmds); do grep -q \"^\\.SS .*\$c\" $top/man/gaitcap.1 || { echo \"no \$c\"; exit 1; }; done"
for c in capture mark info recover; do
	check "gaitcap(1) names every option of gaitcap $c --help" \
		mentions "$top/man/gaitcap.1" $(long_opts "$bin/gaitcap" "$c")
done
check "gaitmat-sim(1) names every option of its --help" \
	mentions "$top/man/gaitmat-sim.1" $(long_opts "$bin/gaitmat-sim")
check "gaitmat-attach(8) names every option of its --help" \
	mentions "$top/man/gaitmat-attach.8" $(long_opts "$bin/gaitmat-attach")
keys=$(sed -n 's/^#\{0,1\}\([a-z_]*\) = .*/\1/p' "$top/udev/appliance.conf" | sort -u)
check "gaitcap.conf(5) describes every key of appliance.conf ($(echo $keys | wc -w))" sh -c "
	for k in $(echo $keys); do grep -q \"^\\.BI .*\$k\" $top/man/gaitcap.conf.5 ||
		{ echo \"no \$k\"; exit 1; }; done"

# ---- systemd-analyze security ------------------------------------------------

sec() {
	(cd "$(dirname "$1")" && systemd-analyze security --offline=true "$(basename "$1")" 2>&1)
}
make -s -C "$top" install PREFIX="$pfx/usr" CONFDIR="$pfx/etc/gaitcap" \
	DKMSDIR="$pfx/src/gaitmat-$ver" >/dev/null 2>&1
sec "$pfx/usr/lib/systemd/system/gaitcap.service" >"$scratch/security"
score=$(sed -n 's/.*Overall exposure level for gaitcap.service: \([0-9.]*\) .*/\1/p' "$scratch/security")
echo "# systemd-analyze security gaitcap.service: ${score:-?}"
grep '✗' "$scratch/security" | sed 's/^/#   /'
documented=$(sed -n 's/.*<!-- security-score -->\*\*\([0-9.]*\) .*/\1/p' "$doc")
check "the score is the one docs/operating.md reports ($documented)" test "${score:-x}" = "$documented"
check "the score is at most 1.5 (aim: low)" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 1.5) }'
sed -n '/<!-- exposures: begin -->/,/<!-- exposures: end -->/p' "$doc" >"$scratch/exposures"
check "every remaining exposure is explained in docs/operating.md, with its weight" sh -c "
	grep '✗' $scratch/security | while read -r _ name rest; do
		w=\${rest##* }
		grep -qF \"| \\\`\$name\\\` (\$w) |\" $scratch/exposures || { echo \"not explained: \$name (\$w)\"; exit 1; }
	done"
check "and the docs explain none that is not there" sh -c "
	grep -o '^| \`[^\`]*\` ([0-9.]*)' $scratch/exposures | sed 's/^| \`\\([^\`]*\\)\`.*/\\1/' |
	while read -r name; do
		grep '✗' $scratch/security | grep -qF \" \$name \" || { echo \"not an exposure: \$name\"; exit 1; }
	done"
cp "$pfx/usr/lib/systemd/system/gaitmat-attach@.service" "$scratch/gaitmat-attach@ttyUSB0.service"
ascore=$(sec "$scratch/gaitmat-attach@ttyUSB0.service" |
	sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
echo "# systemd-analyze security gaitmat-attach@ttyUSB0.service: ${ascore:-?}"
check "gaitmat-attach@.service scores as docs/operating.md says ($ascore)" \
	grep -q "\`gaitmat-attach@.service\` scores $ascore " "$doc"
make -s -C "$top" uninstall PREFIX="$pfx/usr" CONFDIR="$pfx/etc/gaitcap" \
	DKMSDIR="$pfx/src/gaitmat-$ver" >/dev/null 2>&1

# ---- Debian packages ---------------------------------------------------------

src=$scratch/deb/gaitcap-$ver
mkdir -p "$src"
# The tree as git sees it (new files included, build/ and ignored ones not).
(cd "$top" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src")
check "dpkg-buildpackage -us -uc -b builds gaitcap and gaitmat-dkms" sh -c "
	cd $src && dpkg-buildpackage -us -uc -b -j2"
debs=$scratch/deb
gc=$debs/gaitcap_${ver}_amd64.deb
gd=$debs/gaitmat-dkms_${ver}_all.deb
if [ -f "$gc" ] && [ -f "$gd" ]; then
	for d in "$gc" "$gd"; do
		echo "# contents of ${d##*/}:"
		dpkg-deb -c "$d" | awk '{print $1, $6}' | sed 's/^/#   /'
	done
	# Files only (no folders), without the leading ./; docs are gzipped by dh.
	deb_files() {
		dpkg-deb -c "$1" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | LC_ALL=C sort
	}
	deb_files "$gc" >"$scratch/gc-files"
	deb_files "$gd" >"$scratch/gd-files"
	# dh_compress gzips man pages, and documents over 4 KiB.
	{
		grep -v '^usr/src/\|^usr/share/doc/gaitcap/' "$scratch/expected" |
			sed '/^usr\/share\/man\//s/$/.gz/'
		(cd "$top/docs" && find . -type f -size +4096c | sed 's|^\./\(.*\)|usr/share/doc/gaitcap/\1.gz|')
		(cd "$top/docs" && find . -type f ! -size +4096c | sed 's|^\./|usr/share/doc/gaitcap/|')
		echo usr/share/doc/gaitcap/changelog.gz
		echo usr/share/doc/gaitcap/copyright
		echo usr/share/lintian/overrides/gaitcap
	} | LC_ALL=C sort >"$scratch/gc-expected"
	{
		grep '^usr/src/' "$scratch/expected"
		echo usr/share/doc/gaitmat-dkms/changelog.gz
		echo usr/share/doc/gaitmat-dkms/copyright
	} | LC_ALL=C sort >"$scratch/gd-expected"
	check "gaitcap.deb holds the documented files (docs and man pages compressed)" \
		same "$scratch/gc-expected" "$scratch/gc-files"
	check "gaitmat-dkms.deb holds the DKMS source" same "$scratch/gd-expected" "$scratch/gd-files"
	dpkg-deb -e "$gc" "$scratch/gc-ctl"
	dpkg-deb -e "$gd" "$scratch/gd-ctl"
	check "gaitcap: /etc/gaitcap/appliance.conf is a conffile" \
		grep -qx /etc/gaitcap/appliance.conf "$scratch/gc-ctl/conffiles"
	check "gaitcap postinst: the user before the folders, then the service enabled" sh -c "
		p=$scratch/gc-ctl/postinst
		a=\$(grep -n 'systemd-sysusers.*gaitcap.conf' \$p | cut -d: -f1)
		b=\$(grep -n 'systemd-tmpfiles.*--create gaitcap.conf' \$p | cut -d: -f1)
		[ -n \"\$a\" ] && [ -n \"\$b\" ] && [ \$a -lt \$b ] &&
		grep -q \"deb-systemd-helper enable 'gaitcap.service'\" \$p"
	check "gaitcap depends on the libraries it links and on sysusers" sh -c "
		d=\$(dpkg-deb -f $gc Depends); echo \"\$d\"
		for l in libiio0 liburing2 libjson-c5 libzstd1 libxxhash0 systemd; do
			echo \"\$d\" | grep -q \"\$l\" || exit 1; done"
	check "gaitmat-dkms: depends on dkms, its postinst runs DKMS for gaitmat $ver" sh -c "
		dpkg-deb -f $gd Depends | grep -q dkms &&
		grep -qx 'DKMS_NAME=gaitmat' $scratch/gd-ctl/postinst &&
		grep -qx 'DKMS_VERSION=$ver' $scratch/gd-ctl/postinst &&
		grep -q 'common.postinst' $scratch/gd-ctl/postinst"
	if command -v lintian >/dev/null; then
		check "lintian: no error, no warning" sh -c "
			out=\$(lintian --no-cfg $debs/gaitcap_${ver}_amd64.changes 2>&1 |
				grep -v '^N:\|^$\|running with root privileges'); echo \"\$out\"; [ -z \"\$out\" ]"
	else
		skip "lintian" "lintian not installed (scripts/install-deps.sh)"
	fi
fi

# ---- DKMS ------------------------------------------------------------------------

make -s -C "$top" install DESTDIR="$dest" >/dev/null 2>&1
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
	# DKMS signs with its MOK (made at its first build): the key an operator
	# enrols for Secure Boot (docs/operating.md).
	ko=$(ls "$tree/gaitmat/$ver/$kver/x86_64/module/gaitmat.ko"* 2>/dev/null | head -n1)
	case $ko in
	*.xz) xz -dc "$ko" >"$scratch/m.ko" ;;
	*) cp "$ko" "$scratch/m.ko" 2>/dev/null ;;
	esac
	check "gaitmat.ko for $kver is signed with DKMS's MOK (/var/lib/dkms/mok.pub)" sh -c "
		key=\$(modinfo -F sig_key $scratch/m.ko | tr -d ':'); echo \"sig_key \$key\"
		ser=\$(openssl x509 -inform DER -in /var/lib/dkms/mok.pub -noout -serial | cut -d= -f2)
		echo \"mok \$ser\"; [ -n \"\$key\" ] && [ \"\$key\" = \"\$ser\" ]"
done
echo "1..$n"
exit $((fails > 0))
