// SPDX-License-Identifier: GPL-2.0
/*
 * Walking model: footfall generation and the pressure under each foot.
 *
 * The force curve is a monotone cubic (Fritsch-Carlson) through seven knots
 * of normalised stance time. The knot values of a normal stance were fitted
 * to the mean stance-phase total force of the Moticon OpenGo fixture
 * (tests/unit/test_sim_model.c checks the correlation), scaled so the peaks
 * are 1.10 and 1.08 body weights, as force plates report for a comfortable
 * walking speed.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gait_model.h"
#include "sim_rng.h"

#define GRAVITY		9.81
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* The walk starts with a short pause, so the first scans are empty. */
#define FIRST_IC_S	0.2
/* ... and ends with one after the last toe-off. */
#define TAIL_S		0.3
/* Steps of a 180 degree turn (the return pass's first step is not one). */
#define TURN_STEPS	3
#define TURN_TIME_SCALE	1.15

static const double knot_tau[GAIT_FORCE_KNOTS] = {
	0.00, 0.08, 0.22, 0.50, 0.77, 0.92, 1.00
};

/*
 * In body weights: impact at contact, loading response, first peak
 * (weight acceptance), mid-stance valley, push-off peak, unloading, last
 * contact of the toes. Non-zero ends make contact visible from the first
 * to the last scan of a stance.
 */
static const double knots_normal[GAIT_FORCE_KNOTS] = {
	0.10, 0.90, 1.10, 0.65, 1.08, 0.60, 0.06
};

/* Shuffling: weak heel strike, slow loading, flat roll, weak push-off. */
static const double knots_flat[GAIT_FORCE_KNOTS] = {
	0.04, 0.55, 1.00, 0.88, 0.98, 0.55, 0.04
};

struct gait_preset {
	const char *name;
	double cadence_spm;
	double step_length_m;
	double step_width_m;
	double toe_out_deg;
	double asymmetry_pct;
	double variability_pct;
	double stance_fraction;
};

static const struct gait_preset presets[GAIT_KIND_COUNT] = {
	[GAIT_NORMAL] = { "normal", 110, 0.65, 0.10, 6, 0, 2, 0.62 },
	[GAIT_ANTALGIC] = { "antalgic", 100, 0.55, 0.11, 6, 20, 3, 0.64 },
	[GAIT_ASYMMETRIC] = { "asymmetric", 100, 0.58, 0.12, 8, 15, 3, 0.63 },
	[GAIT_SHUFFLING] = { "shuffling", 120, 0.40, 0.12, 4, 0, 4, 0.68 },
};

struct gait_model {
	struct gait_params p;
	struct walkway w;
	struct footfall *ff;
	size_t n_ff;
	size_t cap_ff;
	uint64_t max_stance_us;
	uint64_t end_us;
	double weight_n;
};

const char *gait_kind_name(enum gait_kind kind)
{
	return kind < GAIT_KIND_COUNT ? presets[kind].name : "?";
}

int gait_kind_parse(const char *name, enum gait_kind *kind)
{
	unsigned int i;

	for (i = 0; i < GAIT_KIND_COUNT; i++) {
		if (!strcmp(name, presets[i].name)) {
			*kind = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *gait_side_name(enum gait_side side)
{
	return side == GAIT_LEFT ? "left" : "right";
}

void gait_params_init(struct gait_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = GAIT_NORMAL;
	p->affected = GAIT_RIGHT;
	p->speed_mps = NAN;
	p->cadence_spm = NAN;
	p->step_length_m = NAN;
	p->step_width_m = NAN;
	p->foot_length_m = NAN;
	p->foot_width_m = NAN;
	p->toe_out_deg = NAN;
	p->body_mass_kg = NAN;
	p->asymmetry_pct = NAN;
	p->variability_pct = NAN;
	p->stance_fraction = NAN;
	p->duration_s = NAN;
	p->lead_in_m = NAN;
	p->turn_margin_m = NAN;
}

static void set_default(double *v, double def)
{
	if (isnan(*v))
		*v = def;
}

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool out_of(double v, double lo, double hi)
{
	return !(v >= lo && v <= hi);
}

struct range_check {
	const char *name;
	const double *v;
	double lo, hi;
};

int gait_params_resolve(struct gait_params *p, char *err, size_t err_len)
{
	/* Checked once every default is in place. */
	const struct range_check checks[] = {
		{ "speed (m/s)", &p->speed_mps, 0.1, 3.0 },
		{ "cadence (steps/min)", &p->cadence_spm, 30, 200 },
		{ "step length (m)", &p->step_length_m, 0.1, 1.2 },
		{ "step width (m)", &p->step_width_m, 0.0, 0.4 },
		{ "foot length (m)", &p->foot_length_m, 0.1, 0.4 },
		{ "foot width (m)", &p->foot_width_m, 0.04, 0.2 },
		{ "toe-out (degrees)", &p->toe_out_deg, -30, 45 },
		{ "body mass (kg)", &p->body_mass_kg, 10, 250 },
		{ "asymmetry (%)", &p->asymmetry_pct, 0, 50 },
		{ "variability (%)", &p->variability_pct, 0, 20 },
		{ "stance fraction", &p->stance_fraction, 0.52, 0.80 },
		{ "lead-in (m)", &p->lead_in_m, 0, 20 },
		{ "turn margin (m)", &p->turn_margin_m, 0, 10 },
	};
	const struct gait_preset *pre;
	bool has_v, has_c, has_l;
	unsigned int i;

	if (p->kind >= GAIT_KIND_COUNT)
		return fail(err, err_len, "unknown gait kind");
	pre = &presets[p->kind];
	has_v = !isnan(p->speed_mps);
	has_c = !isnan(p->cadence_spm);
	has_l = !isnan(p->step_length_m);
	if (has_v && has_c && has_l) {
		double v = p->step_length_m * p->cadence_spm / 60.0;

		if (fabs(v - p->speed_mps) > 0.02 * p->speed_mps)
			return fail(err, err_len,
				    "speed %.3f m/s disagrees with step length x cadence (%.3f m/s)",
				    p->speed_mps, v);
	} else if (has_v && has_c) {
		p->step_length_m = p->speed_mps * 60.0 / p->cadence_spm;
	} else if (has_v && has_l) {
		p->cadence_spm = p->speed_mps * 60.0 / p->step_length_m;
	} else if (has_v) {
		p->cadence_spm = pre->cadence_spm;
		p->step_length_m = p->speed_mps * 60.0 / p->cadence_spm;
	} else {
		set_default(&p->cadence_spm, pre->cadence_spm);
		set_default(&p->step_length_m, pre->step_length_m);
	}
	p->speed_mps = p->step_length_m * p->cadence_spm / 60.0;
	set_default(&p->step_width_m, pre->step_width_m);
	set_default(&p->foot_length_m, 0.26);
	set_default(&p->foot_width_m, 0.10);
	set_default(&p->toe_out_deg, pre->toe_out_deg);
	set_default(&p->body_mass_kg, 70.0);
	set_default(&p->asymmetry_pct, pre->asymmetry_pct);
	set_default(&p->variability_pct, pre->variability_pct);
	set_default(&p->stance_fraction, pre->stance_fraction);
	set_default(&p->lead_in_m, 1.0);
	set_default(&p->turn_margin_m, 0.8);
	if (p->passes && !isnan(p->duration_s))
		return fail(err, err_len, "give a number of passes or a duration, not both");
	if (!p->passes && isnan(p->duration_s))
		p->passes = 2;

	for (i = 0; i < ARRAY_SIZE(checks); i++)
		if (out_of(*checks[i].v, checks[i].lo, checks[i].hi))
			return fail(err, err_len, "%s %g outside [%g, %g]",
				    checks[i].name, *checks[i].v,
				    checks[i].lo, checks[i].hi);
	if (p->foot_width_m >= p->foot_length_m)
		return fail(err, err_len, "a foot must be longer than it is wide");
	/* The longer stance of an asymmetric gait must leave a swing. */
	if (p->stance_fraction * (1 + p->asymmetry_pct / 200.0) > 0.85)
		return fail(err, err_len,
			    "stance fraction %g with %g %% asymmetry leaves no swing",
			    p->stance_fraction, p->asymmetry_pct);
	if (p->passes > 1000)
		return fail(err, err_len, "passes %u outside [1, 1000]", p->passes);
	if (!isnan(p->duration_s) && out_of(p->duration_s, 0.5, 86400))
		return fail(err, err_len, "duration %g s outside [0.5, 86400]",
			    p->duration_s);
	if (p->affected != GAIT_LEFT && p->affected != GAIT_RIGHT)
		return fail(err, err_len, "affected side must be left or right");
	return 0;
}

/* ---- Walkway geometry ------------------------------------------------ */

/* Tile-local (sensel grid frame, mm) to walkway, by k quarter turns. */
static void tile_to_walkway(const struct gm_tile *t, double lx, double ly,
			    double *x, double *y)
{
	double rx, ry;

	switch (t->orient & 3) {
	case 0:
		rx = lx;
		ry = ly;
		break;
	case 1:
		rx = -ly;
		ry = lx;
		break;
	case 2:
		rx = -lx;
		ry = -ly;
		break;
	default:
		rx = ly;
		ry = -lx;
		break;
	}
	*x = t->x_mm + rx;
	*y = t->y_mm + ry;
}

static void walkway_to_tile(const struct gm_tile *t, double x, double y,
			    double *lx, double *ly)
{
	double dx = x - t->x_mm, dy = y - t->y_mm;

	switch (t->orient & 3) {
	case 0:
		*lx = dx;
		*ly = dy;
		break;
	case 1:
		*lx = dy;
		*ly = -dx;
		break;
	case 2:
		*lx = -dx;
		*ly = -dy;
		break;
	default:
		*lx = -dy;
		*ly = dx;
		break;
	}
}

static double pitch_mm(const struct walkway *w)
{
	return w->pitch_um / 1000.0;
}

void walkway_sensel_pos(const struct walkway *w, unsigned int idx,
			double *x_mm, double *y_mm)
{
	unsigned int per_tile = w->rows * w->cols;
	unsigned int t = idx / per_tile, r, c;
	double p = pitch_mm(w);

	r = (idx % per_tile) / w->cols;
	c = idx % w->cols;
	tile_to_walkway(&w->tiles[t], (c + 0.5) * p, (r + 0.5) * p, x_mm, y_mm);
}

void walkway_extent(const struct walkway *w, double *x0, double *y0,
		    double *x1, double *y1)
{
	double p = pitch_mm(w), x, y;
	unsigned int t, k;

	*x0 = *y0 = INFINITY;
	*x1 = *y1 = -INFINITY;
	for (t = 0; t < w->n_tiles; t++) {
		for (k = 0; k < 4; k++) {
			tile_to_walkway(&w->tiles[t], (k & 1) ? w->cols * p : 0,
					(k & 2) ? w->rows * p : 0, &x, &y);
			*x0 = fmin(*x0, x);
			*y0 = fmin(*y0, y);
			*x1 = fmax(*x1, x);
			*y1 = fmax(*y1, y);
		}
	}
}

static bool point_on_walkway(const struct walkway *w, double x, double y)
{
	double p = pitch_mm(w), lx, ly;
	unsigned int t;

	for (t = 0; t < w->n_tiles; t++) {
		walkway_to_tile(&w->tiles[t], x, y, &lx, &ly);
		if (lx >= 0 && ly >= 0 && lx < w->cols * p && ly < w->rows * p)
			return true;
	}
	return false;
}

/* ---- Force curve -------------------------------------------------------- */

static void force_curve_set(struct footfall *f, const double *knots_bw,
			    double scale_n)
{
	double d[GAIT_FORCE_KNOTS - 1];
	double *y = f->force_n, *m = f->slope;
	unsigned int i;

	for (i = 0; i < GAIT_FORCE_KNOTS; i++)
		y[i] = knots_bw[i] * scale_n;
	for (i = 0; i + 1 < GAIT_FORCE_KNOTS; i++)
		d[i] = (y[i + 1] - y[i]) / (knot_tau[i + 1] - knot_tau[i]);
	/* Fritsch-Carlson: weighted harmonic mean, 0 at extrema: no overshoot. */
	m[0] = d[0];
	m[GAIT_FORCE_KNOTS - 1] = d[GAIT_FORCE_KNOTS - 2];
	for (i = 1; i + 1 < GAIT_FORCE_KNOTS; i++) {
		double h0 = knot_tau[i] - knot_tau[i - 1];
		double h1 = knot_tau[i + 1] - knot_tau[i];
		double w1 = 2 * h1 + h0, w2 = h1 + 2 * h0;

		if (d[i - 1] * d[i] <= 0)
			m[i] = 0;
		else
			m[i] = (w1 + w2) / (w1 / d[i - 1] + w2 / d[i]);
	}
}

double gait_force_at(const struct footfall *f, double tau)
{
	double h, t, t2, t3;
	unsigned int i;

	if (tau <= 0)
		return f->force_n[0];
	if (tau >= 1)
		return f->force_n[GAIT_FORCE_KNOTS - 1];
	for (i = 0; i + 2 < GAIT_FORCE_KNOTS; i++)
		if (tau < knot_tau[i + 1])
			break;
	h = knot_tau[i + 1] - knot_tau[i];
	t = (tau - knot_tau[i]) / h;
	t2 = t * t;
	t3 = t2 * t;
	return (2 * t3 - 3 * t2 + 1) * f->force_n[i] +
	       (t3 - 2 * t2 + t) * h * f->slope[i] +
	       (-2 * t3 + 3 * t2) * f->force_n[i + 1] +
	       (t3 - t2) * h * f->slope[i + 1];
}

double gait_footfall_force(const struct footfall *f, uint64_t t_us)
{
	if (t_us <= f->ic_us || t_us >= f->to_us)
		return 0;
	return gait_force_at(f, (double)(t_us - f->ic_us) /
				(double)(f->to_us - f->ic_us));
}

/* ---- Footfall generation ------------------------------------------------ */

struct side_plan {
	double step_time_s;	/* from the other foot's contact to this one's */
	double stance_s;
	double step_length_m;
	double force_scale;	/* of the body-weight curve */
};

/*
 * Per-side timing and lengths. Each pattern scales a side's step time and
 * its stance by the same factor, which keeps both double-support phases
 * positive for any stance fraction above 0.5.
 */
static void plan_sides(const struct gait_params *p, struct side_plan sp[2])
{
	double stride = 120.0 / p->cadence_spm;
	double stance = p->stance_fraction * stride;
	double k = p->asymmetry_pct / 100.0;
	enum gait_side a = p->affected, u = !p->affected;
	unsigned int s;

	for (s = 0; s < 2; s++) {
		sp[s].step_time_s = stride / 2;
		sp[s].stance_s = stance;
		sp[s].step_length_m = p->step_length_m;
		sp[s].force_scale = 1.0;
	}
	if (k == 0)
		return;
	if (p->kind == GAIT_ANTALGIC) {
		/* Off the painful leg quickly, and lightly. */
		sp[a].stance_s = stance * (1 - k / 2);
		sp[u].stance_s = stance * (1 + k / 2);
		sp[u].step_time_s = stride / 2 * (1 - k / 2);
		sp[a].step_time_s = stride / 2 * (1 + k / 2);
		sp[u].step_length_m = p->step_length_m * (1 - k / 4);
		sp[a].step_length_m = p->step_length_m * (1 + k / 4);
		sp[a].force_scale = 1 - k;
		sp[u].force_scale = 1 + k / 4;
	} else {
		/* Step length asymmetry: the affected side steps further. */
		sp[a].step_length_m = p->step_length_m * (1 + k / 2);
		sp[u].step_length_m = p->step_length_m * (1 - k / 2);
		sp[a].step_time_s = stride / 2 * (1 + k / 4);
		sp[u].step_time_s = stride / 2 * (1 - k / 4);
		sp[a].stance_s = stance * (1 - k / 4);
		sp[u].stance_s = stance * (1 + k / 4);
		sp[a].force_scale = 1 - k / 3;
	}
}

static int push_footfall(struct gait_model *m, struct footfall *f)
{
	if (m->n_ff == m->cap_ff) {
		size_t cap = m->cap_ff ? 2 * m->cap_ff : 64;
		struct footfall *ff = realloc(m->ff, cap * sizeof(*ff));

		if (!ff)
			return -ENOMEM;
		m->ff = ff;
		m->cap_ff = cap;
	}
	f->index = m->n_ff;
	m->ff[m->n_ff++] = *f;
	if (f->to_us - f->ic_us > m->max_stance_us)
		m->max_stance_us = f->to_us - f->ic_us;
	return 0;
}

static void footprint_coverage(const struct walkway *w, struct footfall *f,
			       double len_mm, double width_mm)
{
	double c = cos(f->heading_rad), s = sin(f->heading_rad);
	unsigned int i, j, on = 0, n = 0;

	/* A 9 x 5 lattice over the foot's rectangle, corners included. */
	for (i = 0; i <= 8; i++) {
		for (j = 0; j <= 4; j++) {
			double u = len_mm * i / 8.0;
			double v = width_mm * (j / 4.0 - 0.5);

			n++;
			on += point_on_walkway(w, f->heel_x_mm + u * c - v * s,
					       f->heel_y_mm + u * s + v * c);
		}
	}
	f->on_mat = on > 0;
	f->fully_on_mat = on == n;
}

struct walker {
	struct gait_model *m;
	struct sim_rng rng;
	struct side_plan sp[2];
	double t_s;		/* next initial contact */
	enum gait_side side;	/* the foot that lands next */
	double cx, cy;		/* body centre on the ground, mm */
	double heading;		/* of the path */
	unsigned int pass;
	double cv;
};

static double jitter(struct walker *wk, double scale)
{
	return 1.0 + wk->cv * scale * sim_rng_normal(&wk->rng);
}

/* Lands the next foot beside the body centre, facing @heading. */
static int walker_step(struct walker *wk, double heading, bool turning)
{
	const struct gait_params *p = &wk->m->p;
	const struct side_plan *sp = &wk->sp[wk->side];
	double lat = p->step_width_m * 500.0 + 8.0 * sim_rng_normal(&wk->rng);
	double toe_out = p->toe_out_deg * M_PI / 180.0;
	double len = p->foot_length_m * 1000.0;
	double stance = sp->stance_s * jitter(wk, 1.0);
	struct footfall f;
	int ret;

	memset(&f, 0, sizeof(f));
	f.side = wk->side;
	f.pass = wk->pass;
	f.turning = turning;
	f.flat_roll = p->kind == GAIT_SHUFFLING;
	if (turning)
		stance *= TURN_TIME_SCALE;
	f.ic_us = (uint64_t)llround(wk->t_s * 1e6);
	f.to_us = (uint64_t)llround((wk->t_s + stance) * 1e6);
	if (wk->side == GAIT_RIGHT)
		lat = -lat;
	/* The heel sits beside the path: left of it for the left foot. */
	f.heel_x_mm = wk->cx - lat * sin(heading);
	f.heel_y_mm = wk->cy + lat * cos(heading);
	f.heading_rad = heading + (wk->side == GAIT_LEFT ? toe_out : -toe_out);
	f.toe_x_mm = f.heel_x_mm + len * cos(f.heading_rad);
	f.toe_y_mm = f.heel_y_mm + len * sin(f.heading_rad);
	force_curve_set(&f, f.flat_roll ? knots_flat : knots_normal,
			wk->m->weight_n * sp->force_scale * jitter(wk, 1.0) *
			(turning ? 0.95 : 1.0));
	footprint_coverage(&wk->m->w, &f, len, p->foot_width_m * 1000.0);
	ret = push_footfall(wk->m, &f);
	if (ret)
		return ret;
	wk->side = !wk->side;
	wk->t_s += wk->sp[wk->side].step_time_s * jitter(wk, 1.0) *
		   (turning ? TURN_TIME_SCALE : 1.0);
	return 0;
}

static bool walker_done(const struct walker *wk)
{
	const struct gait_params *p = &wk->m->p;

	return !p->passes && wk->t_s >= p->duration_s;
}

static int generate(struct gait_model *m, uint64_t seed)
{
	const struct gait_params *p = &m->p;
	double x0, y0, x1, y1, yc;
	struct walker wk;
	unsigned int k;
	int ret;

	memset(&wk, 0, sizeof(wk));
	wk.m = m;
	sim_rng_seed(&wk.rng, seed, SIM_RNG_GAIT);
	plan_sides(p, wk.sp);
	wk.cv = p->variability_pct / 100.0;
	walkway_extent(&m->w, &x0, &y0, &x1, &y1);
	yc = (y0 + y1) / 2;
	wk.t_s = FIRST_IC_S;
	wk.side = sim_rng_below(&wk.rng, 2) ? GAIT_LEFT : GAIT_RIGHT;
	wk.cx = x0 - p->lead_in_m * 1000.0;
	wk.cy = yc + 15.0 * sim_rng_normal(&wk.rng);
	wk.heading = 0;
	for (;;) {
		bool last = p->passes && wk.pass == p->passes - 1;
		double dir = cos(wk.heading) > 0 ? 1.0 : -1.0;
		double margin = (last ? p->lead_in_m : p->turn_margin_m) * 1000.0;
		double stop_x = dir > 0 ? x1 + margin : x0 - margin;

		/* A straight pass: step until the next step would overshoot. */
		for (;;) {
			double len = wk.sp[wk.side].step_length_m * 1000.0 *
				     jitter(&wk, 1.0);

			if (walker_done(&wk))
				return 0;
			if (dir * (wk.cx + dir * len) > dir * stop_x)
				break;
			wk.cx += dir * len;
			ret = walker_step(&wk, wk.heading, false);
			if (ret)
				return ret;
		}
		if (last)
			return 0;
		/* A spin turn, to the left, around the body centre. */
		for (k = 1; k <= TURN_STEPS; k++) {
			if (walker_done(&wk))
				return 0;
			ret = walker_step(&wk, wk.heading + k * M_PI /
					  (TURN_STEPS + 1), true);
			if (ret)
				return ret;
		}
		wk.heading = dir > 0 ? M_PI : 0;
		wk.pass++;
		wk.cy = yc + 15.0 * sim_rng_normal(&wk.rng);
	}
}

int gait_model_create(struct gait_model **out, const struct gait_params *p,
		      const struct walkway *w, uint64_t seed)
{
	struct gait_model *m;
	size_t i;
	int ret;

	if (!w->n_tiles || w->n_tiles > GM_MAX_TILES || !w->rows ||
	    !w->cols || !w->pitch_um)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->p = *p;
	ret = gait_params_resolve(&m->p, NULL, 0);
	if (ret)
		goto err_free;
	m->w = *w;
	m->weight_n = m->p.body_mass_kg * GRAVITY;
	ret = generate(m, seed);
	if (ret)
		goto err_free;
	if (m->p.passes) {
		for (i = 0; i < m->n_ff; i++)
			if (m->ff[i].to_us > m->end_us)
				m->end_us = m->ff[i].to_us;
		m->end_us += (uint64_t)(TAIL_S * 1e6);
	} else {
		m->end_us = (uint64_t)llround(m->p.duration_s * 1e6);
	}
	*out = m;
	return 0;

err_free:
	free(m->ff);
	free(m);
	return ret;
}

void gait_model_destroy(struct gait_model *m)
{
	if (!m)
		return;
	free(m->ff);
	free(m);
}

const struct gait_params *gait_model_params(const struct gait_model *m)
{
	return &m->p;
}

size_t gait_model_n_footfalls(const struct gait_model *m)
{
	return m->n_ff;
}

const struct footfall *gait_model_footfall(const struct gait_model *m,
					   size_t i)
{
	return i < m->n_ff ? &m->ff[i] : NULL;
}

uint64_t gait_model_duration_us(const struct gait_model *m)
{
	return m->end_us;
}

double gait_model_body_weight_n(const struct gait_model *m)
{
	return m->weight_n;
}

size_t gait_model_contacts(const struct gait_model *m, uint64_t t_us,
			   size_t *idx, size_t max)
{
	size_t lo = 0, hi = m->n_ff, n = 0, i;
	uint64_t from = t_us > m->max_stance_us ? t_us - m->max_stance_us : 0;

	/* Initial contacts are in time order: find the first that may count. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->ff[mid].ic_us < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < m->n_ff && m->ff[i].ic_us < t_us; i++) {
		if (m->ff[i].to_us <= t_us)
			continue;
		if (n < max)
			idx[n] = i;
		n++;
	}
	return n;
}

/* ---- Pressure under a foot ------------------------------------------------ */

/*
 * Foot regions in the foot's frame: u along the foot from the heel (share
 * of its length), v across it towards the medial side (share of its width),
 * and the half-axes of each region's elliptical load patch.
 */
enum { R_HEEL, R_MIDFOOT, R_FOREFOOT, R_HALLUX, R_TOES, R_COUNT };

static const struct {
	double u, v, ru, rv;
} regions[R_COUNT] = {
	[R_HEEL] = { 0.15, 0.00, 0.15, 0.32 },
	[R_MIDFOOT] = { 0.42, -0.20, 0.16, 0.17 },	/* lateral arch */
	[R_FOREFOOT] = { 0.70, 0.00, 0.10, 0.46 },	/* metatarsal heads */
	[R_HALLUX] = { 0.90, 0.26, 0.08, 0.15 },
	[R_TOES] = { 0.86, -0.16, 0.07, 0.26 },
};

static double smoothstep(double e0, double e1, double x)
{
	double t = (x - e0) / (e1 - e0);

	if (t <= 0)
		return 0;
	if (t >= 1)
		return 1;
	return t * t * (3 - 2 * t);
}

/*
 * Share of the load each region carries at stance time @tau: the heel
 * alone at contact, heel-off around 60 % of stance, push-off through the
 * metatarsal heads and the hallux. A flat roll lands on the whole sole.
 */
static void region_shares(bool flat, double tau, double share[R_COUNT])
{
	double sum = 0;
	unsigned int r;

	if (flat) {
		share[R_HEEL] = 0.7 * (1 - smoothstep(0.35, 0.75, tau));
		share[R_MIDFOOT] = 0.25 * (1 - smoothstep(0.6, 0.9, tau));
		share[R_FOREFOOT] = 0.5 + 0.5 * smoothstep(0.0, 0.4, tau);
		share[R_HALLUX] = 0.25 * smoothstep(0.5, 0.9, tau);
		share[R_TOES] = 0.15 * smoothstep(0.5, 0.9, tau);
	} else {
		share[R_HEEL] = 1 - smoothstep(0.25, 0.62, tau);
		share[R_MIDFOOT] = 0.15 * smoothstep(0.05, 0.25, tau) *
				   (1 - smoothstep(0.55, 0.8, tau));
		share[R_FOREFOOT] = smoothstep(0.04, 0.30, tau) *
				    (1 - 0.55 * smoothstep(0.80, 1.0, tau));
		share[R_HALLUX] = 0.55 * smoothstep(0.45, 0.85, tau);
		share[R_TOES] = 0.25 * smoothstep(0.50, 0.85, tau);
	}
	for (r = 0; r < R_COUNT; r++)
		sum += share[r];
	for (r = 0; r < R_COUNT; r++)
		share[r] /= sum;
}

struct patch {
	double cx, cy;		/* centre, walkway mm */
	double ux, uy;		/* unit vector of the first axis */
	double a, b;		/* half-axes, mm */
	double ex, ey;		/* half-extent of the bounding box */
};

/* 1 - d^2 inside the ellipse, 0 outside: smooth enough, cheap, compact. */
static double patch_kernel(const struct patch *pa, double x, double y)
{
	double dx = x - pa->cx, dy = y - pa->cy;
	double du = (dx * pa->ux + dy * pa->uy) / pa->a;
	double dv = (-dx * pa->uy + dy * pa->ux) / pa->b;
	double d2 = du * du + dv * dv;

	return d2 < 1 ? 1 - d2 : 0;
}

/*
 * Sum of the kernel over the sensel grid of tile 0, extended beyond the
 * walkway: dividing by it conserves the patch's force on that grid.
 */
static double patch_grid_sum(const struct walkway *w, const struct patch *pa)
{
	const struct gm_tile *t0 = &w->tiles[0];
	double p = pitch_mm(w), sum = 0, lx, ly, x, y;
	double lx0 = INFINITY, ly0 = INFINITY, lx1 = -INFINITY, ly1 = -INFINITY;
	long c, r, c0, c1, r0, r1;
	unsigned int k;

	for (k = 0; k < 4; k++) {
		walkway_to_tile(t0, pa->cx + ((k & 1) ? pa->ex : -pa->ex),
				pa->cy + ((k & 2) ? pa->ey : -pa->ey), &lx, &ly);
		lx0 = fmin(lx0, lx);
		ly0 = fmin(ly0, ly);
		lx1 = fmax(lx1, lx);
		ly1 = fmax(ly1, ly);
	}
	c0 = (long)ceil(lx0 / p - 0.5);
	c1 = (long)floor(lx1 / p - 0.5);
	r0 = (long)ceil(ly0 / p - 0.5);
	r1 = (long)floor(ly1 / p - 0.5);
	for (r = r0; r <= r1; r++) {
		for (c = c0; c <= c1; c++) {
			tile_to_walkway(t0, (c + 0.5) * p, (r + 0.5) * p, &x, &y);
			sum += patch_kernel(pa, x, y);
		}
	}
	return sum;
}

static void patch_render(const struct walkway *w, const struct patch *pa,
			 double kpa_per_unit, gait_sensel_fn fn, void *ctx)
{
	double p = pitch_mm(w), lx, ly, x, y, k;
	unsigned int per_tile = w->rows * w->cols, t, i;

	for (t = 0; t < w->n_tiles; t++) {
		const struct gm_tile *tile = &w->tiles[t];
		double lx0 = INFINITY, ly0 = INFINITY;
		double lx1 = -INFINITY, ly1 = -INFINITY;
		long c, r, c0, c1, r0, r1;

		for (i = 0; i < 4; i++) {
			walkway_to_tile(tile, pa->cx + ((i & 1) ? pa->ex : -pa->ex),
					pa->cy + ((i & 2) ? pa->ey : -pa->ey),
					&lx, &ly);
			lx0 = fmin(lx0, lx);
			ly0 = fmin(ly0, ly);
			lx1 = fmax(lx1, lx);
			ly1 = fmax(ly1, ly);
		}
		c0 = (long)ceil(lx0 / p - 0.5);
		c1 = (long)floor(lx1 / p - 0.5);
		r0 = (long)ceil(ly0 / p - 0.5);
		r1 = (long)floor(ly1 / p - 0.5);
		if (c0 < 0)
			c0 = 0;
		if (r0 < 0)
			r0 = 0;
		if (c1 >= (long)w->cols)
			c1 = w->cols - 1;
		if (r1 >= (long)w->rows)
			r1 = w->rows - 1;
		for (r = r0; r <= r1; r++) {
			for (c = c0; c <= c1; c++) {
				tile_to_walkway(tile, (c + 0.5) * p,
						(r + 0.5) * p, &x, &y);
				k = patch_kernel(pa, x, y);
				if (k > 0)
					fn(ctx, t * per_tile + r * w->cols + c,
					   k * kpa_per_unit);
			}
		}
	}
}

static void foot_render(const struct gait_model *m, const struct footfall *f,
			uint64_t t_us, gait_sensel_fn fn, void *ctx)
{
	double len = m->p.foot_length_m * 1000.0;
	double width = m->p.foot_width_m * 1000.0;
	double c = cos(f->heading_rad), s = sin(f->heading_rad);
	double medial = f->side == GAIT_LEFT ? -1.0 : 1.0;
	double tau, force, share[R_COUNT], p_m;
	unsigned int r;

	force = gait_footfall_force(f, t_us);
	if (force <= 0)
		return;
	tau = (double)(t_us - f->ic_us) / (double)(f->to_us - f->ic_us);
	region_shares(f->flat_roll, tau, share);
	p_m = pitch_mm(&m->w) / 1000.0;
	for (r = 0; r < R_COUNT; r++) {
		struct patch pa;
		double u = regions[r].u * len;
		double v = regions[r].v * width * medial;
		double sum;

		if (share[r] <= 0)
			continue;
		pa.cx = f->heel_x_mm + u * c - v * s;
		pa.cy = f->heel_y_mm + u * s + v * c;
		pa.ux = c;
		pa.uy = s;
		pa.a = regions[r].ru * len;
		pa.b = regions[r].rv * width;
		pa.ex = sqrt(pa.a * pa.a * c * c + pa.b * pa.b * s * s);
		pa.ey = sqrt(pa.a * pa.a * s * s + pa.b * pa.b * c * c);
		sum = patch_grid_sum(&m->w, &pa);
		if (sum <= 0)
			continue;
		/* N over (grid units x sensel area), in kPa. */
		patch_render(&m->w, &pa,
			     force * share[r] / (sum * p_m * p_m) / 1000.0,
			     fn, ctx);
	}
}

size_t gait_model_render(const struct gait_model *m, uint64_t t_us,
			 gait_sensel_fn fn, void *ctx)
{
	size_t idx[8], n, i;

	n = gait_model_contacts(m, t_us, idx, 8);
	if (n > 8)
		n = 8;
	for (i = 0; i < n; i++) {
		const struct footfall *f = &m->ff[idx[i]];

		if (f->on_mat)
			foot_render(m, f, t_us, fn, ctx);
	}
	return n;
}

void gait_foot_patches(const struct footfall *f, double tau,
		       struct gait_foot_patch out[GAIT_FOOT_REGIONS])
{
	double share[R_COUNT];
	unsigned int r;

	_Static_assert(R_COUNT == GAIT_FOOT_REGIONS, "one patch per region");
	region_shares(f->flat_roll, tau, share);
	for (r = 0; r < R_COUNT; r++) {
		out[r].u = regions[r].u;
		out[r].v = regions[r].v;
		out[r].ru = regions[r].ru;
		out[r].rv = regions[r].rv;
		out[r].share = share[r];
	}
}
