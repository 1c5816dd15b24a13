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

# Kernel header trees, one per kernel release we ship for.
KDIR_61 ?= $(lastword $(sort $(wildcard /usr/src/linux-headers-6.1.*-amd64)))
KDIR_612 ?= $(lastword $(sort $(wildcard /usr/src/linux-headers-6.12.*-amd64)))
export KDIR_61 KDIR_612

SUITE := $(TOP)/scripts/suite

.PHONY: all deps userspace driver check demo bench install clean

all: userspace driver

deps:
	@$(TOP)/scripts/install-deps.sh

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
	@$(MAKE) --no-print-directory -C tests check
	@$(TOP)/scripts/check-summary

demo: deps
	@$(MAKE) --no-print-directory all
	@$(TOP)/scripts/demo.sh

bench: deps all
	@$(MAKE) --no-print-directory -C tests/bench bench

clean:
	rm -rf $(BUILD)
	@if [ -f driver/Makefile ]; then $(MAKE) --no-print-directory -C driver clean; fi
