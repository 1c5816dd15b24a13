/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The gait mat controller of gaitmat-sim: a state machine on a virtual
 * clock that turns the walking model's pressure images into the wire bytes
 * of docs/protocols/gaitmat-uart.md, answers host commands, models the
 * UART's byte budget and applies the planned faults.
 *
 * Time is "sim time" (us since the controller was powered, never reset);
 * the controller clock in frames is sim time minus the current boot's
 * start. The caller drives it: mat_ctrl_next_event_us() says when something
 * happens next, mat_ctrl_run_until() makes it happen and hands the bytes to
 * the sink together with the sim time their first bit leaves the UART.
 * Nothing here reads a real clock, so a run is a pure function of the seed,
 * the options and the host bytes (and the sim times they arrive at).
 */
#ifndef MAT_CTRL_H
#define MAT_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faults.h"
#include "gait_model.h"
#include "gaitmat_proto.h"

#define MAT_TILE_SENSELS	64
#define MAT_PITCH_UM		9500
#define MAT_TILE_MM		608	/* 64 x 9.5 mm */
#define MAT_HEARTBEAT_US	500000
#define MAT_BOOT_INFO_US	20000	/* firmware start to DEVINFO */
#define MAT_CMD_LATENCY_US	200	/* command received to its ACK */
#define MAT_DEF_BAUD		3000000
#define MAT_DEF_RATE		100
#define MAT_DEF_FULL_SCALE	600

extern const uint16_t mat_rates[];
extern const unsigned int mat_n_rates;
bool mat_rate_valid(unsigned int rate_hz);

struct mat_cfg {
	unsigned int n_tiles;		/* 1..8, in a line along x */
	unsigned int rate_hz;		/* at boot */
	uint32_t baud;			/* 10 bits per byte on the line */
	uint16_t full_scale_kpa;	/* pressure at GM_SENSEL_MAX */
	double gain_spread;		/* calibration gains 1 +- this */
	bool autostart;			/* stream at boot, without START */
	uint64_t seed;
};

void mat_cfg_init(struct mat_cfg *cfg);

/* The walkway the controller announces: @n_tiles tiles along x. */
void mat_walkway_line(struct walkway *w, unsigned int n_tiles);

/*
 * Receives the bytes on the line, in order. @sim_us is when the first of
 * them starts to leave the UART. Returns 0 or -errno (which stops the run).
 */
typedef int (*mat_sink_fn)(void *ctx, const uint8_t *buf, size_t len,
			   uint64_t sim_us);

/* ---- Ground truth kept by the controller ------------------------------- */

struct mat_scan_ref {
	bool valid;
	uint32_t boot;		/* index into the boots */
	uint32_t seq;		/* hdr.seq of that scan */
	uint64_t scan;		/* scans counted over the whole run */
};

/* First and last scans taken while a footfall was in contact. */
struct mat_footfall_obs {
	struct mat_scan_ref first;
	struct mat_scan_ref last;
};

struct mat_boot {
	uint32_t boot_id;
	uint64_t sim_us;	/* sim time of controller clock 0 */
};

struct mat_fault_record {
	enum fault_kind kind;
	uint64_t scan;		/* run-wide scan index it is bound to */
	uint32_t boot;
	uint32_t seq;		/* hdr.seq of the scan it hit */
	uint64_t clock_us;	/* that scan's controller time */
	uint64_t sim_us;
	uint64_t offset;	/* byte offset on the line where it shows */
	uint32_t len;		/* bytes it occupies on the line (0: none) */
	/*
	 * crc: offset of the flipped byte in the raw frame; truncate: COBS
	 * bytes kept; garbage: burst bytes; silence: ms; reset: new boot_id.
	 */
	uint32_t detail;
	uint32_t detail2;	/* crc: xor mask; truncate: original length */
};

struct mat_stats {
	uint64_t bytes;
	uint64_t frames[8];	/* by controller frame type 1..6 */
	uint64_t scans;		/* taken, over the whole run */
	uint64_t data_frames;	/* handed to the UART */
	uint64_t dense;
	uint64_t sparse;
	uint64_t budget_drops;	/* scans dropped for the byte budget */
	uint64_t host_frames;
	uint64_t host_errors;
};

struct mat_ctrl;

int mat_ctrl_create(struct mat_ctrl **out, const struct mat_cfg *cfg,
		    const struct gait_model *model,
		    const struct fault_plan *faults, mat_sink_fn sink,
		    void *sink_ctx, char *err, size_t err_len);
void mat_ctrl_destroy(struct mat_ctrl *c);

/* Sim time of the next thing the controller does. */
uint64_t mat_ctrl_next_event_us(const struct mat_ctrl *c);

/* Do everything due at or before @sim_us. Returns 0 or the sink's error. */
int mat_ctrl_run_until(struct mat_ctrl *c, uint64_t sim_us);

/* Host bytes arriving at @sim_us (runs the controller up to then first). */
int mat_ctrl_host_input(struct mat_ctrl *c, uint64_t sim_us,
			const uint8_t *buf, size_t len);

/* Sim time at which the walk is over, or UINT64_MAX before it starts. */
uint64_t mat_ctrl_end_us(const struct mat_ctrl *c);
/* True once the walk has started and sim time has reached its end. */
bool mat_ctrl_finished(const struct mat_ctrl *c);
uint64_t mat_ctrl_now_us(const struct mat_ctrl *c);

/* Everything the ground truth needs. */
const struct walkway *mat_ctrl_walkway(const struct mat_ctrl *c);
const struct mat_cfg *mat_ctrl_cfg(const struct mat_ctrl *c);
const struct gm_devinfo *mat_ctrl_devinfo(const struct mat_ctrl *c);
const uint16_t *mat_ctrl_gains(const struct mat_ctrl *c);
const struct mat_boot *mat_ctrl_boots(const struct mat_ctrl *c, size_t *n);
const struct mat_footfall_obs *mat_ctrl_footfall_obs(const struct mat_ctrl *c);
const struct mat_fault_record *mat_ctrl_fault_log(const struct mat_ctrl *c,
						  size_t *n);
const struct mat_stats *mat_ctrl_stats(const struct mat_ctrl *c);
/* Sim time the walk started (first streaming scan), UINT64_MAX if not. */
uint64_t mat_ctrl_walk_start_us(const struct mat_ctrl *c);
/* Boot index and controller clock at sim time @sim_us. */
void mat_ctrl_clock_at(const struct mat_ctrl *c, uint64_t sim_us,
		       uint32_t *boot, uint64_t *clock_us);

/*
 * The raw sensel values (before encoding) the controller sends for walk
 * time @walk_us: the model's pressure through full scale and the inverse
 * calibration gains. Tests compare decoded frames with it.
 */
void mat_ctrl_image(struct mat_ctrl *c, uint64_t walk_us, uint16_t *out);

#endif /* MAT_CTRL_H */
