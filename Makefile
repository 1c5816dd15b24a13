# SPDX-License-Identifier: GPL-2.0
#
# gaitcap top-level Makefile.
#
#   make          build userspace and the driver for every kernel we ship for
#   make check    run every test suite; ends with "check: N passed, N failed, N skipped"
#   make demo     install what is missing, build, boot the lab and play a walk
#   make bench    benchmarks (ratios measured side by side in one run)
#   make install  install tools, man pages, udev rules, units, docs and the DKMS source
#   make uninstall  remove exactly that
#
# Quiet by default; V=1 shows the commands. Everything is built under build/.

export TOP := $(CURDIR)
export BUILD ?= $(TOP)/build
export V ?= 0

# The kernel header trees (KDIR_61, KDIR_612) are looked up by driver/Makefile
# and the test scripts when they run, never here: `deps` installs them after
# this file is read, and make caches what a directory held when it first
# looked. Set on the command line or in the environment, they pass through.

# Hooks for tests/infra's fresh-machine test (docs/lab.md).
INSTALL_DEPS ?= $(TOP)/scripts/install-deps.sh
DEMO ?= $(TOP)/scripts/demo.sh
CHECK_TESTS ?= $(MAKE) --no-print-directory -C tests check

.PHONY: all deps userspace driver check demo bench install clean

all: userspace driver

deps:
	@$(INSTALL_DEPS)

userspace:
	@$(MAKE) --no-print-directory -C userspace

driver:
	@if [ -f driver/Makefile ]; then $(MAKE) --no-print-directory -C driver all; fi

# Each suite is run through scripts/suite, which writes build/results/NAME;
# check-summary prints the closing line and fails the target on any failure.
check: deps
	@rm -rf $(BUILD)/results
	@mkdir -p $(BUILD)/results
	@$(MAKE) --no-print-directory all || \
		echo "build: 0 passed, 1 failed, 0 skipped" >$(BUILD)/results/build
	@$(CHECK_TESTS)
	@$(TOP)/scripts/check-summary

demo: deps
	@$(MAKE) --no-print-directory all
	@$(DEMO)

# `all` in the recipe, not as a prerequisite: under -j it could start before
# deps has installed what it builds against.
bench: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -C tests/bench bench

# ---- Installation ----------------------------------------------------------
# Debian-style: `make install DESTDIR=... PREFIX=...`; docs/operating.md
# ("Installed files") lists the tree, tests/install checks it. Debian 12
# keeps udev's and systemd's files under /lib; another PREFIX gets its own
# lib/. The driver's source goes to /usr/src as a DKMS tree. /etc is /etc
# whatever the PREFIX: gaitcap service reads /etc/gaitcap/appliance.conf.
PREFIX ?= /usr
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/gaitcap
SYSLIBDIR ?= $(if $(filter /usr,$(PREFIX)),/lib,$(PREFIX)/lib)
UDEVDIR ?= $(SYSLIBDIR)/udev
UNITDIR ?= $(SYSLIBDIR)/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
MODLOADDIR ?= $(PREFIX)/lib/modules-load.d
CONFDIR ?= /etc/gaitcap
VERSION := $(shell sed -n 's/^\#define GAITCAP_VERSION "\(.*\)"/\1/p' userspace/gaitcap/gaitcap.h)
DKMSDIR ?= /usr/src/gaitmat-$(VERSION)

INSTALL_PROGS := gaitcap gaitmat-sim gaitmat-attach
MAN_PAGES := man/gaitcap.1 man/gaitcap.conf.5 man/gaitmat-sim.1 man/gaitmat-attach.8
DKMS_SRCS := Kbuild $(addprefix driver/,Kbuild gaitmat.h gaitmat_buf.c gaitmat_core.c \
	gaitmat_proto.c gaitmat_proto.h gaitmat_serdev.c gaitmat_trace.h gaitmat_virt.c)
DOC_FILES := $(shell cd docs && find . -type f | LC_ALL=C sort | sed 's|^\./||')
DOC_DIRS := $(shell cd docs && find . -mindepth 1 -type d | LC_ALL=C sort -r | sed 's|^\./||')
SUBST := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@UDEVDIR@|$(UDEVDIR)|g' \
	-e 's|@VERSION@|$(VERSION)|g'
D := $(DESTDIR)

.PHONY: uninstall
install: userspace
	install -d $(D)$(BINDIR) $(D)$(UDEVDIR)/rules.d $(D)$(UNITDIR) \
		$(D)$(SYSUSERSDIR) $(D)$(TMPFILESDIR) $(D)$(MODLOADDIR) $(D)$(CONFDIR) \
		$(D)$(DOCDIR) $(D)$(DKMSDIR)/driver \
		$(addprefix $(D)$(MANDIR)/man,1 5 8)
	install -m 0755 $(addprefix $(BUILD)/bin/,$(INSTALL_PROGS)) $(D)$(BINDIR)/
	for m in $(MAN_PAGES); do \
		install -m 0644 $$m $(D)$(MANDIR)/man$${m##*.}/ || exit 1; \
	done
	$(SUBST) udev/70-gaitmat.rules.in >$(D)$(UDEVDIR)/rules.d/70-gaitmat.rules
	install -m 0755 udev/gaitmat-sysfs-access $(D)$(UDEVDIR)/
	$(SUBST) udev/gaitcap.service.in >$(D)$(UNITDIR)/gaitcap.service
	$(SUBST) udev/gaitmat-attach@.service.in >$(D)$(UNITDIR)/gaitmat-attach@.service
	install -m 0644 udev/gaitcap.sysusers $(D)$(SYSUSERSDIR)/gaitcap.conf
	install -m 0644 udev/gaitcap.tmpfiles $(D)$(TMPFILESDIR)/gaitcap.conf
	install -m 0644 udev/gaitmat.modules-load $(D)$(MODLOADDIR)/gaitmat.conf
	@# A conffile: an edited one is the operator's, never overwritten.
	[ -e $(D)$(CONFDIR)/appliance.conf ] || \
		install -m 0644 udev/appliance.conf $(D)$(CONFDIR)/appliance.conf
	for f in $(DKMS_SRCS); do \
		install -m 0644 $$f $(D)$(DKMSDIR)/$$f || exit 1; \
	done
	$(SUBST) scripts/dkms.conf.in >$(D)$(DKMSDIR)/dkms.conf
	for f in $(DOC_FILES); do \
		install -D -m 0644 docs/$$f $(D)$(DOCDIR)/$$f || exit 1; \
	done

# Removes what install put, and the folders that are ours alone once empty.
uninstall:
	rm -f $(addprefix $(D)$(BINDIR)/,$(INSTALL_PROGS))
	for m in $(notdir $(MAN_PAGES)); do \
		rm -f $(D)$(MANDIR)/man$${m##*.}/$$m; \
	done
	rm -f $(D)$(UDEVDIR)/rules.d/70-gaitmat.rules $(D)$(UDEVDIR)/gaitmat-sysfs-access \
		$(D)$(UNITDIR)/gaitcap.service $(D)$(UNITDIR)/gaitmat-attach@.service \
		$(D)$(SYSUSERSDIR)/gaitcap.conf $(D)$(TMPFILESDIR)/gaitcap.conf \
		$(D)$(MODLOADDIR)/gaitmat.conf
	@# The operator's edits stay.
	if cmp -s udev/appliance.conf $(D)$(CONFDIR)/appliance.conf; then \
		rm -f $(D)$(CONFDIR)/appliance.conf; \
	fi
	rmdir $(D)$(CONFDIR) 2>/dev/null || true
	rm -f $(addprefix $(D)$(DKMSDIR)/,$(DKMS_SRCS) dkms.conf)
	rmdir $(D)$(DKMSDIR)/driver $(D)$(DKMSDIR) 2>/dev/null || true
	rm -f $(addprefix $(D)$(DOCDIR)/,$(DOC_FILES))
	(cd $(D)$(DOCDIR) 2>/dev/null && rmdir $(DOC_DIRS) 2>/dev/null) || true
	rmdir $(D)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf $(BUILD)
	@if [ -f driver/Makefile ]; then $(MAKE) --no-print-directory -C driver clean; fi
