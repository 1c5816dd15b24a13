// SPDX-License-Identifier: GPL-2.0
/*
 * Insole model: cell pressures from the walking model's force curve and
 * foot regions, IMU from a foot trajectory, a drifting insole clock.
 *
 * The foot's force is distributed over the 16 cells region by region, each
 * region's share spread with the same elliptical kernel the mat uses and
 * normalised over the cells, so that sum(pressure x area) is the model's
 * force exactly before offset, noise and quantisation (a real insole's
 * "total force" output is calibrated the same way).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "insole_model.h"
#include "sim_rng.h"

#define GRAVITY		9.81
/* Per-sample noise streams, clear of sim_rng.h's consumers. */
#define RNG_INSOLE_SETUP	32
#define RNG_INSOLE_NOISE	33

/*
 * Cell centres as shares of the foot (u from the heel, v medial +) and
 * areas: four heel cells, three midfoot (two on the lateral arch, where it
 * touches), four under the metatarsal heads, five toe cells. A layout in
 * the spirit of 16-cell commercial insoles; the description carries it.
 */
static const struct {
	double u, v;
	unsigned int area_mm2;
} cell_layout[INSOLE_CELLS] = {
	{ 0.07, 0.14, 500 }, { 0.07, -0.14, 500 },
	{ 0.18, 0.20, 500 }, { 0.18, -0.20, 500 },
	{ 0.33, -0.25, 400 }, { 0.46, -0.28, 400 }, { 0.46, 0.10, 300 },
	{ 0.66, 0.32, 450 }, { 0.69, 0.11, 450 },
	{ 0.69, -0.11, 450 }, { 0.66, -0.32, 450 },
	{ 0.78, 0.22, 350 }, { 0.78, -0.22, 350 },
	{ 0.90, 0.26, 500 }, { 0.89, 0.04, 350 }, { 0.85, -0.22, 300 },
};

struct insole_model {
	const struct gait_model *gm;
	enum gait_side side;
	struct insole_params p;
	uint64_t seed;
	uint64_t clock_off_us;
	int64_t drift_ppb;
	struct insole_cell cells[INSOLE_CELLS];
	double cell_u[INSOLE_CELLS], cell_v[INSOLE_CELLS];
	uint16_t zero[INSOLE_CELLS];
	/* This side's footfalls, in order of initial contact. */
	const struct footfall **ff;
	size_t n_ff;
};

void insole_params_init(struct insole_params *p)
{
	p->rate_hz = NAN;
	p->clock_offset_s = NAN;
	p->drift_ppm = NAN;
	p->kpa_per_code = NAN;
	p->full_scale = 0;
	p->zero_max_kpa = NAN;
	p->noise_kpa = NAN;
	p->g_per_code = NAN;
	p->dps_per_code = NAN;
	p->acc_noise_g = NAN;
	p->gyro_noise_dps = NAN;
}

static void set_default(double *v, double def)
{
	if (isnan(*v))
		*v = def;
}

static int params_resolve(struct insole_params *p, struct sim_rng *rng)
{
	set_default(&p->rate_hz, 100);
	set_default(&p->clock_offset_s, 5 + 55 * sim_rng_unit(rng));
	set_default(&p->drift_ppm, 40);
	set_default(&p->kpa_per_code, 0.125);
	if (!p->full_scale)
		p->full_scale = 4095;
	set_default(&p->zero_max_kpa, 6);
	set_default(&p->noise_kpa, 0.3);
	set_default(&p->g_per_code, 1.0 / 4096);
	set_default(&p->dps_per_code, 0.061);
	set_default(&p->acc_noise_g, 0.01);
	set_default(&p->gyro_noise_dps, 0.5);
	if (!(p->rate_hz >= 1 && p->rate_hz <= 1000) ||
	    !(p->clock_offset_s >= 0 && p->clock_offset_s < 1e6) ||
	    !(fabs(p->drift_ppm) <= 1000) ||
	    !(p->kpa_per_code > 0) || !(p->zero_max_kpa >= 0) ||
	    !(p->noise_kpa >= 0) || !(p->g_per_code > 0) ||
	    !(p->dps_per_code > 0) || !(p->acc_noise_g >= 0) ||
	    !(p->gyro_noise_dps >= 0))
		return -EINVAL;
	return 0;
}

int insole_model_create(struct insole_model **out, const struct gait_model *gm,
			enum gait_side side, const struct insole_params *p,
			uint64_t seed)
{
	const struct gait_params *gp = gait_model_params(gm);
	double len = gp->foot_length_m * 1000, wid = gp->foot_width_m * 1000;
	struct insole_model *m;
	struct sim_rng rng;
	size_t i, n;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->gm = gm;
	m->side = side;
	m->seed = seed;
	m->p = *p;
	sim_rng_seed(&rng, seed, RNG_INSOLE_SETUP + side);
	if (params_resolve(&m->p, &rng)) {
		free(m);
		return -EINVAL;
	}
	m->clock_off_us = (uint64_t)llround(m->p.clock_offset_s * 1e6);
	m->drift_ppb = llround(m->p.drift_ppm * 1000);
	for (i = 0; i < INSOLE_CELLS; i++) {
		double zero_kpa = m->p.zero_max_kpa * sim_rng_unit(&rng);

		m->cell_u[i] = cell_layout[i].u;
		m->cell_v[i] = cell_layout[i].v;
		m->cells[i].x_mm = (int16_t)lround(cell_layout[i].v * wid);
		m->cells[i].y_mm = (int16_t)lround(cell_layout[i].u * len);
		m->cells[i].area_mm2 = cell_layout[i].area_mm2;
		m->zero[i] = (uint16_t)lround(zero_kpa / m->p.kpa_per_code);
	}
	n = gait_model_n_footfalls(gm);
	m->ff = calloc(n ? n : 1, sizeof(*m->ff));
	if (!m->ff) {
		free(m);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct footfall *f = gait_model_footfall(gm, i);

		if (f->side == side)
			m->ff[m->n_ff++] = f;
	}
	*out = m;
	return 0;
}

void insole_model_destroy(struct insole_model *m)
{
	if (!m)
		return;
	free(m->ff);
	free(m);
}

const struct insole_params *insole_model_params(const struct insole_model *m)
{
	return &m->p;
}

enum gait_side insole_model_side(const struct insole_model *m)
{
	return m->side;
}

const struct gait_model *insole_model_gait(const struct insole_model *m)
{
	return m->gm;
}

const struct insole_cell *insole_model_cells(const struct insole_model *m)
{
	return m->cells;
}

uint16_t insole_model_zero_code(const struct insole_model *m, unsigned int i)
{
	return i < INSOLE_CELLS ? m->zero[i] : 0;
}

int64_t insole_model_drift_ppb(const struct insole_model *m)
{
	return m->drift_ppb;
}

uint64_t insole_model_clock_offset_us(const struct insole_model *m)
{
	return m->clock_off_us;
}

/* ---- Clock ----------------------------------------------------------------- */

static __int128 floor_div(__int128 a, __int128 b)
{
	__int128 q = a / b;

	if ((a % b) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

uint64_t insole_model_clock_us(const struct insole_model *m, int64_t walk_us)
{
	__int128 scaled = (__int128)walk_us * (1000000000 + m->drift_ppb);

	return m->clock_off_us + (int64_t)floor_div(scaled, 1000000000);
}

int64_t insole_model_walk_ns(const struct insole_model *m, uint64_t clock_us)
{
	__int128 d = (__int128)((int64_t)(clock_us - m->clock_off_us));
	__int128 rate = 1000000000 + m->drift_ppb;

	/* walk_ns = d x 1e3 x 1e9 / rate, rounded to nearest. */
	return (int64_t)floor_div(d * 1000000000000LL + rate / 2, rate);
}

/* ---- Description ------------------------------------------------------------ */

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_lef32(uint8_t *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	p[0] = u & 0xff;
	p[1] = (u >> 8) & 0xff;
	p[2] = (u >> 16) & 0xff;
	p[3] = u >> 24;
}

size_t insole_model_describe(const struct insole_model *m, unsigned int rate_hz,
			     uint8_t *buf, size_t len)
{
	size_t need = INSOLE_INFO_HDR + INSOLE_CELLS * INSOLE_INFO_CELL;
	unsigned int i;

	if (len < need)
		return 0;
	memset(buf, 0, need);
	buf[0] = INSOLE_INFO_VERSION;
	buf[1] = m->side == GAIT_LEFT ? 0 : 1;
	buf[2] = INSOLE_CELLS;
	buf[3] = 3;			/* accelerometer and gyroscope */
	put_le16(buf + 4, rate_hz);
	put_le16(buf + 6, INSOLE_MAX_BATCH);
	put_le16(buf + 8, m->p.full_scale);
	put_lef32(buf + 12, (float)m->p.kpa_per_code);
	put_lef32(buf + 16, (float)m->p.g_per_code);
	put_lef32(buf + 20, (float)m->p.dps_per_code);
	for (i = 0; i < INSOLE_CELLS; i++) {
		uint8_t *c = buf + INSOLE_INFO_HDR + i * INSOLE_INFO_CELL;

		put_le16(c, (uint16_t)m->cells[i].x_mm);
		put_le16(c + 2, (uint16_t)m->cells[i].y_mm);
		put_le16(c + 4, m->cells[i].area_mm2);
	}
	return need;
}

/* ---- Pressure ---------------------------------------------------------------- */

/* The footfall of this side last in contact at or before @t (or NULL). */
static const struct footfall *last_contact(const struct insole_model *m,
					   double t_us, size_t *idx)
{
	size_t lo = 0, hi = m->n_ff;

	/* First footfall with ic_us > t. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((double)m->ff[mid]->ic_us <= t_us)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	*idx = lo - 1;
	return m->ff[lo - 1];
}

static double stance_tau(const struct footfall *f, double t_us)
{
	return (t_us - (double)f->ic_us) / (double)(f->to_us - f->ic_us);
}

static bool in_stance(const struct footfall *f, double t_us)
{
	return f && t_us > (double)f->ic_us && t_us < (double)f->to_us;
}

static double force_at(const struct insole_model *m, double t_us)
{
	const struct footfall *f;
	size_t i;

	f = last_contact(m, t_us, &i);
	if (!in_stance(f, t_us))
		return 0;
	return gait_force_at(f, stance_tau(f, t_us));
}

double insole_model_force(const struct insole_model *m, int64_t walk_us)
{
	return force_at(m, (double)walk_us);
}

/*
 * The insole's foam and a cell's own size spread a patch: on the insole the
 * kernel reaches INSOLE_SPREAD times as far as on the bare mat, which keeps
 * small regions (the hallux) from landing on a single cell.
 */
#define INSOLE_SPREAD	1.5

static double kernel(const struct gait_foot_patch *pa, double u, double v)
{
	double du = (u - pa->u) / (pa->ru * INSOLE_SPREAD);
	double dv = (v - pa->v) / (pa->rv * INSOLE_SPREAD);
	double d2 = du * du + dv * dv;

	return d2 < 1 ? 1 - d2 : 0;
}

static void pressure_at(const struct insole_model *m, double t_us,
			double kpa[INSOLE_CELLS])
{
	struct gait_foot_patch pa[GAIT_FOOT_REGIONS];
	const struct footfall *f;
	double force, tau;
	unsigned int r, i;
	size_t idx;

	memset(kpa, 0, INSOLE_CELLS * sizeof(*kpa));
	f = last_contact(m, t_us, &idx);
	if (!in_stance(f, t_us))
		return;
	tau = stance_tau(f, t_us);
	force = gait_force_at(f, tau);
	gait_foot_patches(f, tau, pa);
	for (r = 0; r < GAIT_FOOT_REGIONS; r++) {
		double w[INSOLE_CELLS], sum = 0, best = INFINITY;
		unsigned int nearest = 0;

		if (pa[r].share <= 0)
			continue;
		for (i = 0; i < INSOLE_CELLS; i++) {
			double du = (m->cell_u[i] - pa[r].u) / pa[r].ru;
			double dv = (m->cell_v[i] - pa[r].v) / pa[r].rv;

			w[i] = kernel(&pa[r], m->cell_u[i], m->cell_v[i]) *
			       m->cells[i].area_mm2;
			sum += w[i];
			if (du * du + dv * dv < best) {
				best = du * du + dv * dv;
				nearest = i;
			}
		}
		/* A region between cells still loads the insole: nearest cell. */
		if (sum <= 0) {
			w[nearest] = 1;
			sum = 1;
		}
		/* N over mm^2 is MPa: x 1000 for kPa. */
		for (i = 0; i < INSOLE_CELLS; i++)
			kpa[i] += force * pa[r].share * w[i] / sum /
				  m->cells[i].area_mm2 * 1000;
	}
}

void insole_model_pressure(const struct insole_model *m, int64_t walk_us,
			   double kpa[INSOLE_CELLS])
{
	pressure_at(m, (double)walk_us, kpa);
}

/* ---- IMU --------------------------------------------------------------------- */

/* Minimum-jerk position profile and its second derivative, s in [0, 1]. */
static double minjerk(double s)
{
	return s * s * s * (10 - 15 * s + 6 * s * s);
}

static double minjerk_dd(double s)
{
	return 60 * s - 180 * s * s + 120 * s * s * s;
}

static double smooth(double e0, double e1, double x)
{
	double t = (x - e0) / (e1 - e0);

	if (t <= 0)
		return 0;
	if (t >= 1)
		return 1;
	return t * t * (3 - 2 * t);
}

/* Pitch at heel strike and at toe-off, degrees, toe up positive. */
static void pitch_ends(const struct footfall *f, double *ic, double *to)
{
	*ic = f->flat_roll ? 4 : 18;
	*to = f->flat_roll ? -15 : -35;
}

/*
 * Foot kinematics at walk time @t_us: pitch (deg, toe up +), forward and
 * upward acceleration in the world (m/s^2). In stance the foot rolls over
 * the heel, lies flat and rises onto the toes; in swing it travels the
 * stride along a minimum-jerk path and clears the ground by a few cm.
 */
static void foot_kinematics(const struct insole_model *m, double t_us,
			    double *pitch, double *a_fwd, double *a_up)
{
	const struct footfall *f, *next;
	double ic, to, ic2, to2, T, s, d, h;
	size_t i;

	*pitch = 0;
	*a_fwd = 0;
	*a_up = 0;
	f = last_contact(m, t_us, &i);
	if (!f)
		return;			/* standing before the first step */
	pitch_ends(f, &ic, &to);
	if (t_us < (double)f->to_us) {
		double tau = stance_tau(f, t_us);

		*pitch = ic * (1 - smooth(0, 0.15, tau)) +
			 to * smooth(0.55, 1, tau);
		return;
	}
	if (i + 1 >= m->n_ff) {
		/* The last toe-off: the foot comes down flat beside the other. */
		T = 0.4e6;
		s = (t_us - (double)f->to_us) / T;
		if (s < 1)
			*pitch = to * (1 - minjerk(s));
		return;
	}
	next = m->ff[i + 1];
	pitch_ends(next, &ic2, &to2);
	T = (double)(next->ic_us - f->to_us);
	s = (t_us - (double)f->to_us) / T;
	*pitch = to + (ic2 - to) * minjerk(s);
	d = hypot(next->heel_x_mm - f->heel_x_mm,
		  next->heel_y_mm - f->heel_y_mm) / 1000;
	h = f->flat_roll ? 0.02 : 0.06;
	T /= 1e6;
	*a_fwd = d * minjerk_dd(s) / (T * T);
	/* z = h sin^2(pi s): z'' = 2 pi^2 h cos(2 pi s) / T^2. */
	*a_up = 2 * M_PI * M_PI * h * cos(2 * M_PI * s) / (T * T);
}

static int16_t to_code(double v, double per_code)
{
	double c = round(v / per_code);

	if (c > INT16_MAX)
		return INT16_MAX;
	if (c < INT16_MIN)
		return INT16_MIN;
	return (int16_t)c;
}

void insole_model_sample(const struct insole_model *m, uint64_t clock_us,
			 struct insole_reading *r)
{
	double kpa[INSOLE_CELLS], t_us, pitch, p_next, p_prev, a_fwd, a_up, th;
	double acc[3], gyro[3] = { 0, 0, 0 }, unused;
	const struct footfall *f;
	struct sim_rng rng;
	unsigned int i;
	size_t idx;

	memset(r, 0, sizeof(*r));
	r->clock_us = clock_us;
	r->walk_us = (double)insole_model_walk_ns(m, clock_us) / 1000;
	t_us = r->walk_us;
	f = last_contact(m, t_us, &idx);
	r->stance = in_stance(f, t_us);
	r->force_n = force_at(m, t_us);
	/* Noise depends only on (seed, side, clock): any call order. */
	sim_rng_seed(&rng, m->seed ^ (clock_us * 0x9e3779b97f4a7c15ull),
		     RNG_INSOLE_NOISE + m->side);
	pressure_at(m, t_us, kpa);
	for (i = 0; i < INSOLE_CELLS; i++) {
		double code = kpa[i] / m->p.kpa_per_code + m->zero[i] +
			      m->p.noise_kpa * sim_rng_normal(&rng) /
			      m->p.kpa_per_code;

		code = round(code);
		if (code < 0)
			code = 0;
		if (code >= m->p.full_scale) {
			code = m->p.full_scale;
			r->saturated = true;
		}
		r->cell[i] = (uint16_t)code;
	}
	foot_kinematics(m, t_us, &pitch, &a_fwd, &a_up);
	foot_kinematics(m, t_us + 500, &p_next, &unused, &unused);
	foot_kinematics(m, t_us - 500, &p_prev, &unused, &unused);
	/* Sensor y points left: toe-up pitch is a negative y rotation. */
	gyro[1] = -(p_next - p_prev) / 1e-3;
	th = pitch * M_PI / 180;
	/* Specific force (what an accelerometer reads) in the sensor frame. */
	acc[0] = (a_fwd * cos(th) + (a_up + GRAVITY) * sin(th)) / GRAVITY;
	acc[1] = 0;
	acc[2] = (-a_fwd * sin(th) + (a_up + GRAVITY) * cos(th)) / GRAVITY;
	for (i = 0; i < 3; i++) {
		acc[i] += m->p.acc_noise_g * sim_rng_normal(&rng);
		gyro[i] += m->p.gyro_noise_dps * sim_rng_normal(&rng);
		r->acc[i] = to_code(acc[i], m->p.g_per_code);
		r->gyro[i] = to_code(gyro[i], m->p.dps_per_code);
	}
}
