# SPDX-License-Identifier: GPL-2.0
# Shared compiler settings for userspace code, its tests and fuzzers.
# Simply expanded: MAKEFILE_LIST changes as other makefiles are included.
ifndef TOP
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
endif
BUILD ?= $(TOP)/build
CC ?= cc
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS_COMMON := -D_GNU_SOURCE -I$(TOP)/driver -I$(TOP)/userspace/include \
	-I$(TOP)/userspace
CFLAGS_COMMON := -std=gnu11 -O2 -g $(WARN)

ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-7s %s\n' $(1) $(notdir $(2))
endif
