/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection of gaitmat-sim: what the user asks for (--fault specs),
 * where each fault lands (placement on the controller's scan count, from
 * the seed), and the byte-level injectors. The controller applies them and
 * logs every injection; docs/simulator.md lists the effect of each kind on
 * a receiver.
 */
#ifndef SIM_FAULTS_H
#define SIM_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_rng.h"

enum fault_kind {
	FAULT_GARBAGE,		/* a burst of noise bytes between frames */
	FAULT_CRC,		/* one body byte of a data frame flipped */
	FAULT_TRUNCATE,		/* a data frame cut short, delimiter kept */
	FAULT_DROP,		/* a data frame never sent: a silent seq gap */
	FAULT_RESET,		/* the controller reboots */
	FAULT_SILENCE,		/* nothing at all on the line for a while */
	FAULT_BUDGET,		/* a scan dropped as if the link were full */
	FAULT_KIND_COUNT
};

#define FAULT_MAX_SPECS		32
#define FAULT_GARBAGE_MAX	255	/* longest garbage burst */
#define FAULT_DEF_GARBAGE	32
#define FAULT_DEF_SILENCE_MS	3000
#define FAULT_RESET_DOWN_US	50000	/* from the reset to the new boot */

/* One --fault option: KIND[:N][,at=SCAN][,ms=MS][,len=BYTES][,n=N]. */
struct fault_spec {
	enum fault_kind kind;
	unsigned int count;	/* how many (default 1) */
	bool has_at;
	uint64_t at;		/* scan index of the first; the rest follow */
	unsigned int ms;	/* silence length */
	unsigned int len;	/* longest garbage burst */
};

struct fault_plan {
	struct fault_spec specs[FAULT_MAX_SPECS];
	unsigned int n_specs;
};

/* A fault bound to a scan: it fires when the controller takes that scan. */
struct fault_event {
	uint64_t scan;
	enum fault_kind kind;
	unsigned int param;	/* ms for silence, max length for garbage */
};

const char *fault_kind_name(enum fault_kind kind);

/* Parse one spec and append it to @plan; -EINVAL with a reason in @err. */
int fault_plan_add(struct fault_plan *plan, const char *arg, char *err,
		   size_t err_len);

/*
 * Bind every fault of @plan to a scan index (0 = first scan of the run).
 * Faults without at= are spread at random over [1, n_scans - 2], apart
 * from each other, and never inside a silence. @rate_hz converts silence
 * lengths to scans. Returns 0 and a malloc'ed array sorted by scan, or
 * -EINVAL (with @err) when the walk is too short for them.
 */
int fault_plan_place(const struct fault_plan *plan, uint64_t n_scans,
		     unsigned int rate_hz, uint64_t seed,
		     struct fault_event **events, size_t *n_events,
		     char *err, size_t err_len);

/* ---- Byte-level injectors (on one encoded or raw frame) ---------------- */

/*
 * A garbage burst: 1..@max_len non-zero random bytes and a delimiter, so a
 * receiver rejects exactly one frame and the next frame arrives intact.
 * Returns its length (@out holds FAULT_GARBAGE_MAX + 1 bytes).
 */
size_t fault_garbage(struct sim_rng *rng, unsigned int max_len, uint8_t *out);

/*
 * Flip bits of one body byte of a raw frame (header + body + CRC) so its
 * CRC no longer matches. Returns the offset of that byte in the raw frame.
 */
size_t fault_corrupt_body(struct sim_rng *rng, uint8_t *raw, size_t raw_len,
			  uint8_t *xor_out);

/*
 * Cut an encoded frame (COBS bytes + delimiter, @wire_len bytes) short:
 * keeps 1..wire_len - 2 COBS bytes and moves the delimiter after them.
 * Returns the new length.
 */
size_t fault_truncate(struct sim_rng *rng, uint8_t *wire, size_t wire_len);

#endif /* SIM_FAULTS_H */
