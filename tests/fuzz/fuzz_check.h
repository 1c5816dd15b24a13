/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Checks shared by the protocol fuzzers: parse a body, and when the codec
 * accepts it, encode the result again and insist it round-trips. A broken
 * invariant aborts, which libFuzzer reports as a crash with the input.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include "gaitmat_proto.h"

#define FUZZ_ASSERT(c)							\
	do {								\
		if (!(c))						\
			fuzz_fail(__FILE__, __LINE__, #c);		\
	} while (0)

void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* A plausible geometry to decode data frames before any DEVINFO. */
void fuzz_default_devinfo(struct gm_devinfo *di);

/*
 * Run the parser of frame type @type over @body and check what it accepts;
 * @di is the geometry for CALIB/DENSE/SPARSE, replaced when a DEVINFO
 * parses.
 */
void fuzz_check_body(u8 type, const u8 *body, size_t len,
		    struct gm_devinfo *di);

#endif /* FUZZ_CHECK_H */
