// SPDX-License-Identifier: GPL-2.0
/*
 * The insole model against the physics it claims: the cells carry the
 * walking model's force in stance and only their zero offset in swing, the
 * load rolls from the heel to the forefoot, cells clip at full scale, the
 * IMU sees gravity at rest, the clock mapping is the stated affine one and
 * every reading is a function of (seed, side, clock) alone.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/gait_model.h"
#include "sim/insole_model.h"
#include "sim/mat_ctrl.h"

struct fx {
	struct walkway w;
	struct gait_params gp;
	struct insole_params ip;
	struct gait_model *gm;
	struct insole_model *im[2];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	mat_walkway_line(&fx->w, 6);
	gait_params_init(&fx->gp);
	fx->gp.passes = 2;
	insole_params_init(&fx->ip);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	insole_model_destroy(fx->im[0]);
	insole_model_destroy(fx->im[1]);
	gait_model_destroy(fx->gm);
	free(fx);
	return 0;
}

static void build(struct fx *fx, uint64_t seed)
{
	char err[160] = "";
	int s;

	for (s = 0; s < 2; s++) {
		insole_model_destroy(fx->im[s]);
		fx->im[s] = NULL;
	}
	gait_model_destroy(fx->gm);
	if (gait_params_resolve(&fx->gp, err, sizeof(err)))
		fail_msg("resolve: %s", err);
	assert_int_equal(gait_model_create(&fx->gm, &fx->gp, &fx->w, seed), 0);
	for (s = 0; s < 2; s++)
		assert_int_equal(insole_model_create(&fx->im[s], fx->gm, s,
						     &fx->ip, seed), 0);
}

/* Force the cells report, N: (code - zero) x scale x area. */
static double cell_force(const struct insole_model *m,
			 const struct insole_reading *r)
{
	const struct insole_cell *c = insole_model_cells(m);
	double kpa_per_code = insole_model_params(m)->kpa_per_code, f = 0;
	unsigned int i;

	for (i = 0; i < INSOLE_CELLS; i++)
		f += ((double)r->cell[i] - insole_model_zero_code(m, i)) *
		     kpa_per_code * c[i].area_mm2 / 1000;
	return f;
}

/* The grid of sample clocks of a whole walk at 100 Hz. */
#define PERIOD_US	10000

static uint64_t first_clock(const struct insole_model *m)
{
	return insole_model_clock_us(m, 0);
}

static size_t n_samples(const struct fx *fx)
{
	return gait_model_duration_us(fx->gm) / PERIOD_US;
}

/* The true force of the side's footfall in contact, straight from gait_model. */
static double model_force(const struct fx *fx, enum gait_side side, double t)
{
	size_t i, n = gait_model_n_footfalls(fx->gm);

	for (i = 0; i < n; i++) {
		const struct footfall *f = gait_model_footfall(fx->gm, i);

		if (f->side == side && t > f->ic_us && t < f->to_us)
			return gait_force_at(f, (t - f->ic_us) /
						(double)(f->to_us - f->ic_us));
	}
	return 0;
}

static void test_insole_force_matches_model_in_stance(void **state)
{
	struct fx *fx = *state;
	unsigned int side, stance = 0;
	struct insole_reading r;
	size_t k;

	build(fx, 7);
	for (side = 0; side < 2; side++) {
		const struct insole_model *m = fx->im[side];
		uint64_t c0 = first_clock(m);

		for (k = 0; k < n_samples(fx); k++) {
			double truth, got;

			insole_model_sample(m, c0 + k * PERIOD_US, &r);
			truth = model_force(fx, side, r.walk_us);
			assert_float_equal(r.force_n, truth, 1e-9);
			if (!r.stance)
				continue;
			stance++;
			assert_false(r.saturated);
			got = cell_force(m, &r);
			/* Noise 0.3 kPa x 16 cells x ~400 mm^2: a few N. */
			if (fabs(got - truth) > 0.01 * truth + 6)
				fail_msg("side %u t %.0f us: cells %.1f N, model %.1f N",
					 side, r.walk_us, got, truth);
		}
	}
	assert_true(stance > 100);
}

static void test_insole_pressure_conserves_force(void **state)
{
	struct fx *fx = *state;
	const struct insole_cell *c;
	double kpa[INSOLE_CELLS];
	int64_t t, end;
	unsigned int i;

	build(fx, 8);
	c = insole_model_cells(fx->im[GAIT_LEFT]);
	end = gait_model_duration_us(fx->gm);
	for (t = 0; t < end; t += 1237) {
		double sum = 0, f = insole_model_force(fx->im[GAIT_LEFT], t);

		insole_model_pressure(fx->im[GAIT_LEFT], t, kpa);
		for (i = 0; i < INSOLE_CELLS; i++) {
			assert_true(kpa[i] >= 0);
			sum += kpa[i] * c[i].area_mm2 / 1000;
		}
		assert_float_equal(sum, f, 1e-9 * (1 + f));
	}
}

static void test_insole_swing_reads_zero_offset(void **state)
{
	struct fx *fx = *state;
	const struct insole_model *m;
	double mean[INSOLE_CELLS] = { 0 };
	struct insole_reading r;
	unsigned int i, n = 0, nonzero = 0;
	uint64_t c0;
	size_t k;

	build(fx, 9);
	m = fx->im[GAIT_RIGHT];
	c0 = first_clock(m);
	for (k = 0; k < n_samples(fx); k++) {
		insole_model_sample(m, c0 + k * PERIOD_US, &r);
		if (r.stance)
			continue;
		assert_float_equal(r.force_n, 0, 0);
		n++;
		for (i = 0; i < INSOLE_CELLS; i++) {
			int d = (int)r.cell[i] - insole_model_zero_code(m, i);

			/* 3 SD of 0.3 kPa is 7.2 codes, plus rounding. */
			assert_true(abs(d) <= 8);
			mean[i] += d;
		}
	}
	assert_true(n > 100);
	for (i = 0; i < INSOLE_CELLS; i++) {
		assert_true(fabs(mean[i] / n) < 0.6);
		nonzero += insole_model_zero_code(m, i) > 0;
	}
	/* An unloaded insole does not read zero. */
	assert_true(nonzero >= 12);
}

/* Centre of pressure along the foot (mm from the heel) at stance time tau. */
static double cop_y(const struct insole_model *m, const struct footfall *f,
		    double tau)
{
	const struct insole_cell *c = insole_model_cells(m);
	int64_t t = f->ic_us + (int64_t)(tau * (f->to_us - f->ic_us));
	double kpa[INSOLE_CELLS], w = 0, y = 0;
	unsigned int i;

	insole_model_pressure(m, t, kpa);
	for (i = 0; i < INSOLE_CELLS; i++) {
		w += kpa[i] * c[i].area_mm2;
		y += kpa[i] * c[i].area_mm2 * c[i].y_mm;
	}
	assert_true(w > 0);
	return y / w;
}

static void test_insole_load_rolls_heel_to_forefoot(void **state)
{
	struct fx *fx = *state;
	const struct insole_model *m;
	const struct footfall *f = NULL;
	double len, y[5];
	size_t i;

	build(fx, 10);
	m = fx->im[GAIT_LEFT];
	for (i = 0; i < gait_model_n_footfalls(fx->gm); i++) {
		f = gait_model_footfall(fx->gm, i);
		if (f->side == GAIT_LEFT && !f->turning && i > 2)
			break;
	}
	len = gait_model_params(fx->gm)->foot_length_m * 1000;
	y[0] = cop_y(m, f, 0.02);
	y[1] = cop_y(m, f, 0.25);
	y[2] = cop_y(m, f, 0.50);
	y[3] = cop_y(m, f, 0.75);
	y[4] = cop_y(m, f, 0.98);
	for (i = 0; i < 4; i++)
		assert_true(y[i] < y[i + 1]);
	assert_true(y[0] < 0.25 * len);
	assert_true(y[4] > 0.65 * len);
}

static void test_insole_saturates_at_full_scale(void **state)
{
	struct fx *fx = *state;
	struct insole_reading r;
	unsigned int i, clipped = 0;
	uint64_t c0;
	size_t k;

	fx->gp.body_mass_kg = 200;
	fx->ip.kpa_per_code = 0.05;		/* full scale 205 kPa */
	build(fx, 11);
	c0 = first_clock(fx->im[GAIT_LEFT]);
	for (k = 0; k < n_samples(fx); k++) {
		bool any = false;

		insole_model_sample(fx->im[GAIT_LEFT], c0 + k * PERIOD_US, &r);
		for (i = 0; i < INSOLE_CELLS; i++) {
			assert_true(r.cell[i] <= 4095);
			any |= r.cell[i] == 4095;
		}
		assert_int_equal(r.saturated, any);
		clipped += any;
	}
	assert_true(clipped > 10);
}

static void test_insole_imu_gravity_and_swing(void **state)
{
	struct fx *fx = *state;
	const struct insole_model *m;
	const struct footfall *f = NULL;
	struct insole_reading r;
	double g_code;
	size_t i;

	build(fx, 12);
	m = fx->im[GAIT_RIGHT];
	g_code = 1 / insole_model_params(m)->g_per_code;
	/* Before the walk: flat and still, the accelerometer reads +1 g up. */
	insole_model_sample(m, insole_model_clock_us(m, 50000), &r);
	assert_true(fabs(r.acc[2] - g_code) < 0.05 * g_code);
	assert_true(abs(r.acc[0]) < 0.05 * g_code);
	assert_true(abs(r.gyro[1]) < 40);	/* 3 SD of 0.5 dps, 0.061/code */
	for (i = 0; i < gait_model_n_footfalls(fx->gm); i++) {
		f = gait_model_footfall(fx->gm, i);
		if (f->side == GAIT_RIGHT && i > 2)
			break;
	}
	/* Mid-stance: foot flat, still. */
	insole_model_sample(m, insole_model_clock_us(m, (f->ic_us + f->to_us) / 2
						     - (f->to_us - f->ic_us) / 8), &r);
	assert_true(fabs(r.acc[2] - g_code) < 0.05 * g_code);
	/* Just after toe-off: the foot swings toe-down, rotating fast. */
	insole_model_sample(m, insole_model_clock_us(m, f->to_us + 60000), &r);
	assert_true(abs(r.gyro[1]) * insole_model_params(m)->dps_per_code > 50);
}

static void test_insole_clock_mapping_exact(void **state)
{
	struct fx *fx = *state;
	const struct insole_model *m;
	int64_t ppb, t;
	uint64_t off, c;
	size_t k;

	fx->ip.drift_ppm = 73.25;
	fx->ip.clock_offset_s = 12.345678;
	build(fx, 13);
	m = fx->im[GAIT_LEFT];
	ppb = insole_model_drift_ppb(m);
	off = insole_model_clock_offset_us(m);
	assert_int_equal(ppb, 73250);
	assert_int_equal(off, 12345678);
	/* clock = off + floor(t (1e9 + ppb) / 1e9), checked another way. */
	for (t = -3000000; t < 4000000000LL; t += 999983) {
		__int128 p = (__int128)t * ppb;
		int64_t q = (int64_t)(p / 1000000000);

		if (p < 0 && p % 1000000000)
			q--;
		assert_int_equal(insole_model_clock_us(m, t), off + t + q);
	}
	/* Over an hour it gains exactly the drift. */
	assert_int_equal(insole_model_clock_us(m, 3600000000LL) -
			 insole_model_clock_us(m, 0), 3600000000LL + 263700);
	/* walk_ns is the inverse on the sample grid, to the nanosecond. */
	for (k = 0; k < 400000; k += 997) {
		__int128 err;

		c = off + k * PERIOD_US;
		err = (__int128)insole_model_walk_ns(m, c) *
		      (1000000000 + ppb) - (__int128)(c - off) * 1000000000000LL;
		assert_true(err <= (1000000000 + ppb) / 2 &&
			    err >= -(1000000000 + ppb) / 2);
	}
}

static void test_insole_deterministic(void **state)
{
	struct fx *fx = *state;
	struct insole_reading a[64], b;
	struct gait_model *gm2;
	struct insole_model *im2;
	char err[80];
	uint64_t c0;
	int i;

	build(fx, 14);
	c0 = first_clock(fx->im[GAIT_LEFT]);
	for (i = 0; i < 64; i++)
		insole_model_sample(fx->im[GAIT_LEFT],
				    c0 + (uint64_t)i * 37 * PERIOD_US, &a[i]);
	assert_int_equal(gait_params_resolve(&fx->gp, err, sizeof(err)), 0);
	assert_int_equal(gait_model_create(&gm2, &fx->gp, &fx->w, 14), 0);
	assert_int_equal(insole_model_create(&im2, gm2, GAIT_LEFT, &fx->ip, 14),
			 0);
	/* Same seed, other instance, reverse order: identical readings. */
	for (i = 63; i >= 0; i--) {
		insole_model_sample(im2, c0 + (uint64_t)i * 37 * PERIOD_US, &b);
		assert_memory_equal(&a[i], &b, sizeof(b));
	}
	insole_model_destroy(im2);
	gait_model_destroy(gm2);
	/* Another seed: other zero offsets, other noise. */
	build(fx, 15);
	insole_model_sample(fx->im[GAIT_LEFT], first_clock(fx->im[GAIT_LEFT]),
			    &b);
	assert_memory_not_equal(a[0].cell, b.cell, sizeof(b.cell));
}

static void test_insole_description(void **state)
{
	struct fx *fx = *state;
	uint8_t buf[INSOLE_INFO_HDR + INSOLE_CELLS * INSOLE_INFO_CELL];
	const struct insole_cell *c;
	unsigned int i;
	float f;

	build(fx, 16);
	assert_int_equal(insole_model_describe(fx->im[GAIT_RIGHT], 100, buf, 10),
			 0);
	assert_int_equal(insole_model_describe(fx->im[GAIT_RIGHT], 100, buf,
					       sizeof(buf)), sizeof(buf));
	assert_int_equal(buf[0], INSOLE_INFO_VERSION);
	assert_int_equal(buf[1], 1);
	assert_int_equal(buf[2], INSOLE_CELLS);
	assert_int_equal(buf[4] | buf[5] << 8, 100);
	assert_int_equal(buf[8] | buf[9] << 8, 4095);
	memcpy(&f, buf + 12, 4);
	assert_float_equal(f, 0.125, 1e-9);
	c = insole_model_cells(fx->im[GAIT_RIGHT]);
	for (i = 0; i < INSOLE_CELLS; i++) {
		const uint8_t *p = buf + INSOLE_INFO_HDR + i * INSOLE_INFO_CELL;

		assert_int_equal((int16_t)(p[0] | p[1] << 8), c[i].x_mm);
		assert_int_equal((int16_t)(p[2] | p[3] << 8), c[i].y_mm);
		assert_int_equal(p[4] | p[5] << 8, c[i].area_mm2);
		assert_true(c[i].y_mm > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insole_force_matches_model_in_stance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insole_pressure_conserves_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insole_swing_reads_zero_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insole_load_rolls_heel_to_forefoot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insole_saturates_at_full_scale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insole_imu_gravity_and_swing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insole_clock_mapping_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insole_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insole_description, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
