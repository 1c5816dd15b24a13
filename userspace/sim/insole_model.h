/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Insole model: what the left or right smart insole of the subject that
 * gait_model.h walks measures. 16 pressure cells laid out as the gaitcap
 * profile's device description tells them (insole_gatt.h), a 6-axis IMU,
 * an unloaded zero offset per cell, saturation at full scale and the
 * insole's own clock (offset and drift against walk time). Every value is
 * a pure function of (seed, side, insole clock): determinism does not
 * depend on the order of calls. docs/simulator.md explains the choices.
 *
 * Times: walk time in microseconds as in gait_model.h (signed here: the
 * insole runs before the walk starts); insole clock in microseconds since
 * its power-on, 64-bit (the wire carries the low 32 bits).
 */
#ifndef INSOLE_MODEL_H
#define INSOLE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "ble/insole_gatt.h"
#include "gait_model.h"

/* One cell: x towards the medial side, y from the heel, both mm. */
struct insole_cell {
	int16_t x_mm;
	int16_t y_mm;
	uint16_t area_mm2;
};

/* Every double left at NAN (and full_scale at 0) takes the default. */
struct insole_params {
	double rate_hz;			/* 100 */
	double clock_offset_s;		/* insole clock at walk time 0; NAN:
					 * drawn from the seed, 5..60 s */
	double drift_ppm;		/* > 0: the insole clock runs fast; 40 */
	double kpa_per_code;		/* 0.125 */
	uint16_t full_scale;		/* 4095 (12-bit converter) */
	double zero_max_kpa;		/* unloaded offset drawn in [0, max]; 6 */
	double noise_kpa;		/* SD of the pressure noise; 0.3 */
	double g_per_code;		/* 1/4096: +-8 g */
	double dps_per_code;		/* 0.061: +-2000 deg/s */
	double acc_noise_g;		/* 0.01 */
	double gyro_noise_dps;		/* 0.5 */
};

void insole_params_init(struct insole_params *p);

/* One reading of the insole, in device units as the wire carries them. */
struct insole_reading {
	uint64_t clock_us;		/* insole clock of the sample */
	double walk_us;			/* true walk time of the sample */
	uint16_t cell[INSOLE_CELLS];
	int16_t acc[3], gyro[3];
	bool saturated;			/* a cell clipped at full scale */
	double force_n;			/* true vertical force of the foot */
	bool stance;			/* the foot is in a stance phase */
};

struct insole_model;

/*
 * A model of the @side insole of the subject walked by @gm (borrowed: it
 * must outlive the insole model). Returns 0 or -EINVAL / -ENOMEM.
 */
int insole_model_create(struct insole_model **out, const struct gait_model *gm,
			enum gait_side side, const struct insole_params *p,
			uint64_t seed);
void insole_model_destroy(struct insole_model *m);

const struct insole_params *insole_model_params(const struct insole_model *m);
enum gait_side insole_model_side(const struct insole_model *m);
const struct gait_model *insole_model_gait(const struct insole_model *m);
const struct insole_cell *insole_model_cells(const struct insole_model *m);
/* Unloaded reading of cell @i (the zero offset), in codes. */
uint16_t insole_model_zero_code(const struct insole_model *m, unsigned int i);
/* Clock drift in parts per billion, as applied (rounded from ppm). */
int64_t insole_model_drift_ppb(const struct insole_model *m);
/* Insole clock at walk time 0, us. */
uint64_t insole_model_clock_offset_us(const struct insole_model *m);

/*
 * The true clock mapping: insole clock = offset + walk x (1 + drift), in
 * exact integer arithmetic with the drift in ppb, rounded down.
 * insole_model_walk_ns() is its exact inverse on the insole's sample grid,
 * in nanoseconds of walk time (rounded to nearest).
 */
uint64_t insole_model_clock_us(const struct insole_model *m, int64_t walk_us);
int64_t insole_model_walk_ns(const struct insole_model *m, uint64_t clock_us);

/*
 * The device description value (INSOLE_CHR_INFO) for the current rate:
 * writes INSOLE_INFO_HDR + 16 x INSOLE_INFO_CELL bytes into @buf (at
 * least that long); returns the length.
 */
size_t insole_model_describe(const struct insole_model *m, unsigned int rate_hz,
			     uint8_t *buf, size_t len);

/* True vertical force of this side's foot at walk time @walk_us, N. */
double insole_model_force(const struct insole_model *m, int64_t walk_us);

/*
 * True cell pressures at walk time @walk_us, kPa (no offset, noise or
 * quantisation): sum of pressure x area is the foot's force.
 */
void insole_model_pressure(const struct insole_model *m, int64_t walk_us,
			   double kpa[INSOLE_CELLS]);

/* What the insole reads when its clock shows @clock_us. */
void insole_model_sample(const struct insole_model *m, uint64_t clock_us,
			 struct insole_reading *r);

#endif /* INSOLE_MODEL_H */
