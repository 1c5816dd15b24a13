# SPDX-License-Identifier: GPL-2.0
#
# gaitcap top-level Makefile.
#
#   make          build userspace and the driver for every kernel we ship for
#   make check    run every test suite; ends with "check: N passed, N failed, N skipped"
#   make demo     install what is missing, build, boot the lab and play a walk
#   make bench    benchmarks (ratios measured side by side in one run)
#   make install  install tools, udev rules, units and the DKMS source
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

.PHONY: all deps userspace driver bpf check demo bench install clean

all: userspace driver bpf

deps:
	@$(INSTALL_DEPS)

userspace:
	@$(MAKE) --no-print-directory -C userspace

driver:
	@if [ -f driver/Makefile ]; then $(MAKE) --no-print-directory -C driver all; fi

# gaitcap-latency (libbpf, bpftool skeleton); needs the userspace headers only.
bpf:
	@$(MAKE) --no-print-directory -C bpf

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

# Debian-style installation: tools in $(PREFIX)/bin, the driver's source as
# a DKMS tree in /usr/src/gaitmat-$(VERSION) (dkms add/build/install take it
# from there), documentation in $(PREFIX)/share/doc/gaitcap.
PREFIX ?= /usr
VERSION := $(shell sed -n 's/^\#define GAITCAP_VERSION "\(.*\)"/\1/p' userspace/gaitcap/gaitcap.h)
INSTALL_PROGS := gaitcap gaitmat-sim gaitmat-attach
DKMS_SRCS := Kbuild $(addprefix driver/,Kbuild gaitmat.h gaitmat_buf.c gaitmat_core.c \
	gaitmat_proto.c gaitmat_proto.h gaitmat_serdev.c gaitmat_trace.h gaitmat_virt.c)

install: userspace
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/usr/src/gaitmat-$(VERSION)/driver \
		$(DESTDIR)$(PREFIX)/share/doc/gaitcap
	install -m 0755 $(addprefix $(BUILD)/bin/,$(INSTALL_PROGS)) $(DESTDIR)$(PREFIX)/bin/
	for f in $(DKMS_SRCS); do \
		install -m 0644 $$f $(DESTDIR)/usr/src/gaitmat-$(VERSION)/$$f || exit 1; \
	done
	sed 's/@VERSION@/$(VERSION)/' scripts/dkms.conf.in \
		>$(DESTDIR)/usr/src/gaitmat-$(VERSION)/dkms.conf
	cp -r docs/. $(DESTDIR)$(PREFIX)/share/doc/gaitcap/

clean:
	rm -rf $(BUILD)
	@if [ -f driver/Makefile ]; then $(MAKE) --no-print-directory -C driver clean; fi
