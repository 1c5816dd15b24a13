/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the gaitmat-sim unit tests: a receiver that decodes a
 * whole captured byte stream with the driver's codec, the Moticon fixture
 * reader and the stance-curve comparison.
 */
#ifndef TEST_SIM_UTIL_H
#define TEST_SIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gaitmat_proto.h"

/* ---- A receiver over a captured stream ---------------------------------- */

struct rx_frame {
	uint8_t type;
	uint8_t flags;
	uint32_t seq;
	uint64_t clock_us;
	size_t offset;		/* of the frame's first byte in the stream */
	unsigned int boot;	/* DEVINFOs with a new boot_id seen, minus 1 */
	long image;		/* index into rx_log.images, or -1 */
	union {
		struct gm_status st;
		struct gm_ack ack;
		struct gm_devinfo di;
		uint8_t calib_tile;
	} u;
};

struct rx_log {
	struct rx_frame *f;
	size_t n;
	size_t cap;
	uint16_t *images;	/* n_images x n_sensels */
	size_t n_images;
	unsigned int n_sensels;
	bool keep_images;
	struct gm_devinfo di;	/* the latest DEVINFO */
	bool have_di;
	uint16_t *gains;	/* from the CALIB frames */
	unsigned int errors[GM_EMAX];	/* rejected frames by code */
	unsigned int n_errors;
	size_t *error_offsets;	/* stream offset where each rejected frame ended */
	unsigned int n_boots;
};

/* Decode @len bytes; 0 or -1 (a frame that passed the CRC but not its parser). */
int rx_decode(const uint8_t *buf, size_t len, struct rx_log *log,
	      bool keep_images);
void rx_free(struct rx_log *log);
const uint16_t *rx_image(const struct rx_log *log, const struct rx_frame *f);
size_t rx_count(const struct rx_log *log, uint8_t type);
static inline bool rx_is_data(const struct rx_frame *f)
{
	return f->type == GM_T_DENSE || f->type == GM_T_SPARSE;
}

/* ---- Reference force curves ---------------------------------------------- */

#define CURVE_POINTS	101

/*
 * The Moticon OpenGo fixture: left and right total force (N) at 100 Hz.
 * Returns 0, or -ENOENT when the fixture is nowhere to be found (@where
 * then lists the places looked at).
 */
int moticon_load(double **left, double **right, size_t *n, char *where,
		 size_t where_len);

/*
 * Mean stance curve of a force series sampled at a fixed rate: stances are the
 * stretches above 10 % of the series' maximum (crossings interpolated),
 * each resampled to CURVE_POINTS points; the mean is scaled to peak 1.
 * Only stances with a sample below the threshold on both sides count.
 * Returns the number of stances averaged.
 */
int stance_mean_curve(const double *x, size_t n, double curve[CURVE_POINTS]);

/*
 * Mean stance curve of the Moticon fixture, both feet; 0, -ENOENT (with
 * @where) or another -errno.
 */
int moticon_reference_curve(double ref[CURVE_POINTS], char *where,
			    size_t where_len);

double pearson(const double *a, const double *b, size_t n);

#endif /* TEST_SIM_UTIL_H */
