/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Walking model of gaitmat-sim: a subject walking back and forth over a
 * walkway of pressure tiles. It produces the list of footfalls (ground
 * truth) and, for any instant, the pressure each sensel of the walkway
 * feels. docs/simulator.md describes the model and its parameters.
 *
 * Units: metres and seconds in the parameters, millimetres on the walkway,
 * microseconds of "walk time" (0 = the instant the subject starts walking,
 * which the controller ties to its first START).
 */
#ifndef GAIT_MODEL_H
#define GAIT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gaitmat_proto.h"

enum gait_kind {
	GAIT_NORMAL,
	GAIT_ANTALGIC,		/* shorter, lighter stance on the painful side */
	GAIT_ASYMMETRIC,	/* step length asymmetry (e.g. after a stroke) */
	GAIT_SHUFFLING,		/* short steps, flat roll, weak heel strike */
	GAIT_KIND_COUNT
};

enum gait_side {
	GAIT_LEFT,
	GAIT_RIGHT,
};

const char *gait_kind_name(enum gait_kind kind);
int gait_kind_parse(const char *name, enum gait_kind *kind);
const char *gait_side_name(enum gait_side side);

/*
 * What the caller sets. Every double left at NAN takes the default of the
 * gait kind; gait_params_resolve() fills them in and checks them.
 * Speed = step length x cadence / 60: give at most two of the three, or
 * three that agree.
 */
struct gait_params {
	enum gait_kind kind;
	double speed_mps;
	double cadence_spm;		/* steps per minute */
	double step_length_m;		/* heel to heel, along the path */
	double step_width_m;		/* between the two feet's lines */
	double foot_length_m;
	double foot_width_m;
	double toe_out_deg;		/* foot progression angle */
	double body_mass_kg;
	double asymmetry_pct;		/* symmetry index of the affected side */
	enum gait_side affected;
	double variability_pct;		/* stride-to-stride CV of time, length */
	double stance_fraction;		/* stance / stride time */
	/* The walk: either a number of passes or a duration. */
	unsigned int passes;
	double duration_s;
	double lead_in_m;		/* start this far before the walkway */
	double turn_margin_m;		/* turn this far beyond its end */
};

/* Every field unset (NAN / 0), kind normal, affected side right. */
void gait_params_init(struct gait_params *p);

/*
 * Fill the unset fields and check the whole set. On error returns -EINVAL
 * and writes a reason into @err (@err_len bytes).
 */
int gait_params_resolve(struct gait_params *p, char *err, size_t err_len);

/* The walkway: tiles as the controller announces them in DEVINFO. */
struct walkway {
	unsigned int n_tiles;
	unsigned int rows;
	unsigned int cols;
	unsigned int pitch_um;
	struct gm_tile tiles[GM_MAX_TILES];
};

/* Bounding box of the sensing area, mm. */
void walkway_extent(const struct walkway *w, double *x0, double *y0,
		    double *x1, double *y1);
/* Centre of sensel @idx (tile-major, then row-major), mm. */
void walkway_sensel_pos(const struct walkway *w, unsigned int idx,
			double *x_mm, double *y_mm);
static inline unsigned int walkway_sensels(const struct walkway *w)
{
	return w->n_tiles * w->rows * w->cols;
}

/* Knots of the vertical force curve over normalised stance time. */
#define GAIT_FORCE_KNOTS	7

struct footfall {
	unsigned int index;
	enum gait_side side;
	unsigned int pass;		/* 0, 1, ...: crossings of the walkway */
	bool turning;			/* a step of the turn between passes */
	bool flat_roll;			/* foot-flat contact (shuffling) */
	uint64_t ic_us;			/* initial contact, walk time */
	uint64_t to_us;			/* toe-off, walk time */
	double heel_x_mm, heel_y_mm;	/* rearmost point of the heel */
	double toe_x_mm, toe_y_mm;	/* tip of the longest toe */
	double heading_rad;		/* heel -> toe direction */
	bool on_mat;			/* the footprint touches the walkway */
	bool fully_on_mat;		/* ... and lies entirely on it */
	/* Force curve: values (N) and slopes at fixed knots (monotone cubic). */
	double force_n[GAIT_FORCE_KNOTS];
	double slope[GAIT_FORCE_KNOTS];
};

struct gait_model;

int gait_model_create(struct gait_model **out, const struct gait_params *p,
		      const struct walkway *w, uint64_t seed);
void gait_model_destroy(struct gait_model *m);

const struct gait_params *gait_model_params(const struct gait_model *m);
size_t gait_model_n_footfalls(const struct gait_model *m);
const struct footfall *gait_model_footfall(const struct gait_model *m,
					   size_t i);
/* Walk time at which the walk is over (last toe-off plus a pause). */
uint64_t gait_model_duration_us(const struct gait_model *m);
/* Body weight, N. */
double gait_model_body_weight_n(const struct gait_model *m);

/*
 * Vertical force of footfall @f at walk time @t_us, N; 0 outside its
 * stance (ic_us, to_us).
 */
double gait_footfall_force(const struct footfall *f, uint64_t t_us);

/* The force curve of @f at normalised stance time @tau in [0, 1], N. */
double gait_force_at(const struct footfall *f, double tau);

/*
 * Indices of the footfalls in contact at walk time @t_us (ic < t < to),
 * at most @max of them; returns how many there are.
 */
size_t gait_model_contacts(const struct gait_model *m, uint64_t t_us,
			   size_t *idx, size_t max);

/* Called for each loaded sensel; may be called twice for one sensel. */
typedef void (*gait_sensel_fn)(void *ctx, unsigned int idx, double kpa);

/*
 * Pressure under the feet in contact at walk time @t_us: @fn gets each
 * loaded sensel of the walkway and its pressure in kPa. The force of each
 * foot region is conserved on the sensel grid (what falls off the
 * walkway is lost, as on a real mat). Returns the number of feet.
 */
size_t gait_model_render(const struct gait_model *m, uint64_t t_us,
			 gait_sensel_fn fn, void *ctx);

/*
 * The load under one foot in the foot's own frame, for sensors that move
 * with the foot (insoles). u runs from the heel to the toe and v towards
 * the medial side, both as shares of the foot's length and width; ru, rv
 * are the half-axes of a region's elliptical patch (same units) and share
 * its part of the vertical force at normalised stance time @tau (shares
 * sum to 1). The same regions gait_model_render() puts on the walkway.
 */
#define GAIT_FOOT_REGIONS	5
struct gait_foot_patch {
	double u, v, ru, rv;
	double share;
};
void gait_foot_patches(const struct footfall *f, double tau,
		       struct gait_foot_patch out[GAIT_FOOT_REGIONS]);

#endif /* GAIT_MODEL_H */
