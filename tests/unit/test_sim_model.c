// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat-sim's walking model: parameters, spatio-temporal structure of the
 * footfalls, pathological gaits, turns, force conservation of the pressure
 * image, and the force curve against real insole data (Moticon fixture).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/gait_model.h"
#include "sim/mat_ctrl.h"
#include "test_sim_util.h"

struct fx {
	struct walkway w;
	struct gait_params p;
	struct gait_model *m;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	mat_walkway_line(&fx->w, 6);
	gait_params_init(&fx->p);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	gait_model_destroy(fx->m);
	free(fx);
	return 0;
}

static void build(struct fx *fx, uint64_t seed)
{
	char err[160] = "";

	gait_model_destroy(fx->m);
	fx->m = NULL;
	if (gait_params_resolve(&fx->p, err, sizeof(err)))
		fail_msg("resolve: %s", err);
	assert_int_equal(gait_model_create(&fx->m, &fx->p, &fx->w, seed), 0);
	assert_true(gait_model_n_footfalls(fx->m) > 4);
}

/* ---- Parameters ------------------------------------------------------------ */

static void test_sim_model_params_resolve(void **state)
{
	struct fx *fx = *state;
	struct gait_params p;
	char err[160];

	gait_params_init(&p);
	assert_int_equal(gait_params_resolve(&p, err, sizeof(err)), 0);
	assert_float_equal(p.speed_mps, 0.65 * 110 / 60.0, 1e-9);
	assert_int_equal(p.passes, 2);

	/* Speed and cadence given: step length follows. */
	gait_params_init(&p);
	p.speed_mps = 1.0;
	p.cadence_spm = 100;
	assert_int_equal(gait_params_resolve(&p, err, sizeof(err)), 0);
	assert_float_equal(p.step_length_m, 0.6, 1e-9);

	/* Speed alone: the preset's cadence, step length follows. */
	gait_params_init(&p);
	p.kind = GAIT_SHUFFLING;
	p.speed_mps = 0.6;
	assert_int_equal(gait_params_resolve(&p, err, sizeof(err)), 0);
	assert_float_equal(p.cadence_spm, 120, 1e-9);
	assert_float_equal(p.step_length_m, 0.3, 1e-9);

	/* Three that disagree. */
	gait_params_init(&p);
	p.speed_mps = 1.5;
	p.cadence_spm = 100;
	p.step_length_m = 0.6;
	assert_int_equal(gait_params_resolve(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "disagrees"));

	gait_params_init(&p);
	p.passes = 2;
	p.duration_s = 10;
	assert_int_equal(gait_params_resolve(&p, err, sizeof(err)), -EINVAL);

	gait_params_init(&p);
	p.asymmetry_pct = 80;
	assert_int_equal(gait_params_resolve(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "asymmetry"));

	(void)fx;
}

/* ---- Spatio-temporal structure ---------------------------------------------- */

static void test_sim_model_normal_walk_matches_parameters(void **state)
{
	struct fx *fx = *state;
	double len_sum = 0, dt_sum = 0, stance_sum = 0, stride_sum = 0;
	double width_sum = 0;
	unsigned int n_len = 0, n_st = 0;
	size_t i, n;

	fx->p.passes = 4;
	build(fx, 7);
	n = gait_model_n_footfalls(fx->m);
	for (i = 1; i < n; i++) {
		const struct footfall *a = gait_model_footfall(fx->m, i - 1);
		const struct footfall *b = gait_model_footfall(fx->m, i);

		/* Alternating feet, time moving forward. */
		assert_int_not_equal(a->side, b->side);
		assert_true(b->ic_us > a->ic_us);
		assert_true(a->to_us > b->ic_us);	/* double support */
		if (a->turning || b->turning || a->pass != b->pass)
			continue;
		len_sum += fabs(b->heel_x_mm - a->heel_x_mm);
		width_sum += fabs(b->heel_y_mm - a->heel_y_mm);
		dt_sum += (b->ic_us - a->ic_us) / 1e6;
		n_len++;
	}
	for (i = 2; i < n; i++) {
		const struct footfall *a = gait_model_footfall(fx->m, i - 2);
		const struct footfall *b = gait_model_footfall(fx->m, i);

		if (a->turning || b->turning || a->pass != b->pass)
			continue;
		stance_sum += (a->to_us - a->ic_us) / 1e6;
		stride_sum += (b->ic_us - a->ic_us) / 1e6;
		n_st++;
	}
	assert_true(n_len > 20);
	/* Means of 2 % jitter over > 20 steps: within 3 %. */
	assert_float_equal(len_sum / n_len / 1000.0, fx->p.step_length_m,
			   0.03 * fx->p.step_length_m);
	assert_float_equal(60.0 / (dt_sum / n_len), fx->p.cadence_spm,
			   0.03 * fx->p.cadence_spm);
	assert_float_equal(stance_sum / stride_sum, fx->p.stance_fraction, 0.02);
	/* Heel-to-heel lateral distance: step width, toe-out aside. */
	assert_float_equal(width_sum / n_len / 1000.0, fx->p.step_width_m, 0.01);
}

static void test_sim_model_same_seed_same_walk(void **state)
{
	struct fx *fx = *state;
	struct gait_model *other;
	size_t i, n;
	bool differs = false;

	build(fx, 11);
	assert_int_equal(gait_model_create(&other, &fx->p, &fx->w, 11), 0);
	n = gait_model_n_footfalls(fx->m);
	assert_int_equal(gait_model_n_footfalls(other), n);
	for (i = 0; i < n; i++)
		assert_memory_equal(gait_model_footfall(fx->m, i),
				    gait_model_footfall(other, i),
				    sizeof(struct footfall));
	gait_model_destroy(other);
	assert_int_equal(gait_model_create(&other, &fx->p, &fx->w, 12), 0);
	for (i = 0; i < n && i < gait_model_n_footfalls(other); i++)
		if (gait_model_footfall(other, i)->ic_us !=
		    gait_model_footfall(fx->m, i)->ic_us)
			differs = true;
	gait_model_destroy(other);
	assert_true(differs);
}

static void test_sim_model_duration_bounds_walk(void **state)
{
	struct fx *fx = *state;
	size_t n;

	fx->p.duration_s = 20;
	build(fx, 3);
	n = gait_model_n_footfalls(fx->m);
	assert_int_equal(gait_model_duration_us(fx->m), 20000000);
	assert_true(gait_model_footfall(fx->m, n - 1)->ic_us < 20000000);
	/* 20 s at 110 steps/min, turns slower: more than 30 steps. */
	assert_true(n > 30);
	/* Back and forth: at least three passes in 20 s over 3.6 m. */
	assert_true(gait_model_footfall(fx->m, n - 1)->pass >= 2);
}

/* Mean of a per-side quantity over straight steps. */
static double side_mean(const struct gait_model *m, enum gait_side side,
			double (*get)(const struct gait_model *, size_t))
{
	double sum = 0;
	size_t i, n = 0;

	for (i = 1; i < gait_model_n_footfalls(m); i++) {
		const struct footfall *f = gait_model_footfall(m, i);
		const struct footfall *prev = gait_model_footfall(m, i - 1);

		if (f->side != side || f->turning || prev->turning ||
		    prev->pass != f->pass)
			continue;
		sum += get(m, i);
		n++;
	}
	return n ? sum / n : NAN;
}

static double get_stance(const struct gait_model *m, size_t i)
{
	const struct footfall *f = gait_model_footfall(m, i);

	return (f->to_us - f->ic_us) / 1e6;
}

static double get_step_length(const struct gait_model *m, size_t i)
{
	return fabs(gait_model_footfall(m, i)->heel_x_mm -
		    gait_model_footfall(m, i - 1)->heel_x_mm);
}

static double get_peak(const struct gait_model *m, size_t i)
{
	const struct footfall *f = gait_model_footfall(m, i);
	double peak = 0;
	int k;

	for (k = 0; k <= 100; k++)
		peak = fmax(peak, gait_force_at(f, k / 100.0));
	return peak;
}

static double symmetry_index(double affected, double other)
{
	return (affected - other) / (0.5 * (affected + other)) * 100.0;
}

static void test_sim_model_antalgic_shortens_painful_stance(void **state)
{
	struct fx *fx = *state;
	double st_a, st_u, pk_a, pk_u;

	fx->p.kind = GAIT_ANTALGIC;
	fx->p.affected = GAIT_LEFT;
	fx->p.passes = 6;
	build(fx, 5);
	st_a = side_mean(fx->m, GAIT_LEFT, get_stance);
	st_u = side_mean(fx->m, GAIT_RIGHT, get_stance);
	pk_a = side_mean(fx->m, GAIT_LEFT, get_peak);
	pk_u = side_mean(fx->m, GAIT_RIGHT, get_peak);
	/* Stance symmetry index = -asymmetry (20 % by default), +-4 %. */
	assert_float_equal(symmetry_index(st_a, st_u), -20.0, 4.0);
	assert_true(pk_a < 0.85 * pk_u);
}

static void test_sim_model_asymmetric_step_lengths(void **state)
{
	struct fx *fx = *state;
	double la, lu;

	fx->p.kind = GAIT_ASYMMETRIC;
	fx->p.asymmetry_pct = 25;
	fx->p.passes = 6;
	build(fx, 5);
	la = side_mean(fx->m, GAIT_RIGHT, get_step_length);
	lu = side_mean(fx->m, GAIT_LEFT, get_step_length);
	assert_float_equal(symmetry_index(la, lu), 25.0, 4.0);
}

/* Valley depth: mid-stance force over the smaller of the two peaks. */
static double valley_ratio(const struct footfall *f)
{
	double p1 = 0, p2 = 0, v = INFINITY;
	int k;

	for (k = 0; k <= 100; k++) {
		double x = gait_force_at(f, k / 100.0);

		if (k < 40)
			p1 = fmax(p1, x);
		else if (k <= 60)
			v = fmin(v, x);
		else
			p2 = fmax(p2, x);
	}
	return v / fmin(p1, p2);
}

static void test_sim_model_shuffling_flattens_roll(void **state)
{
	struct fx *fx = *state;
	const struct footfall *f;
	double bw;

	build(fx, 9);
	f = gait_model_footfall(fx->m, 2);
	assert_true(valley_ratio(f) < 0.7);
	gait_params_init(&fx->p);	/* resolve filled in the normal preset */
	fx->p.kind = GAIT_SHUFFLING;
	build(fx, 9);
	bw = gait_model_body_weight_n(fx->m);
	f = gait_model_footfall(fx->m, 2);
	assert_true(f->flat_roll);
	assert_true(valley_ratio(f) > 0.85);
	/* Weak heel strike: less force at contact than a normal stance. */
	assert_true(gait_force_at(f, 0.0) < 0.06 * bw);
	assert_float_equal(fx->p.step_length_m, 0.40, 1e-9);
}

static void test_sim_model_turns_beyond_walkway(void **state)
{
	struct fx *fx = *state;
	unsigned int turning = 0, turning_on = 0;
	double x0, y0, x1, y1;
	size_t i;

	fx->p.passes = 3;
	build(fx, 21);
	walkway_extent(&fx->w, &x0, &y0, &x1, &y1);
	for (i = 0; i < gait_model_n_footfalls(fx->m); i++) {
		const struct footfall *f = gait_model_footfall(fx->m, i);
		double dir = cos(f->heading_rad);

		if (f->turning) {
			turning++;
			turning_on += f->on_mat;
			continue;
		}
		/* Even passes go +x, odd ones come back. */
		assert_true(f->pass % 2 ? dir < -0.9 : dir > 0.9);
	}
	assert_int_equal(turning, 6);	/* two turns of three steps */
	assert_int_equal(turning_on, 0);

	/* A turn at the very end of the walkway lands on it. */
	fx->p.turn_margin_m = 0;
	build(fx, 21);
	turning_on = 0;
	for (i = 0; i < gait_model_n_footfalls(fx->m); i++)
		turning_on += gait_model_footfall(fx->m, i)->turning &&
			      gait_model_footfall(fx->m, i)->on_mat;
	assert_true(turning_on >= 2);
}

/* ---- Pressure image ------------------------------------------------------------ */

struct force_sum {
	double kpa_sum;
	unsigned int n;
	unsigned int max_idx;
};

static void sum_kpa(void *ctx, unsigned int idx, double kpa)
{
	struct force_sum *s = ctx;

	assert_true(kpa > 0);
	s->kpa_sum += kpa;
	s->n++;
	if (idx > s->max_idx)
		s->max_idx = idx;
}

static void test_sim_model_render_conserves_force(void **state)
{
	struct fx *fx = *state;
	double area_m2 = pow(MAT_PITCH_UM / 1e6, 2);
	unsigned int checked = 0;
	size_t i;

	fx->p.turn_margin_m = 0;	/* turning feet too, rotated */
	build(fx, 4);
	for (i = 0; i < gait_model_n_footfalls(fx->m); i++) {
		const struct footfall *f = gait_model_footfall(fx->m, i);
		uint64_t t;

		if (!f->fully_on_mat)
			continue;
		for (t = f->ic_us + 1; t < f->to_us; t += 37000) {
			struct force_sum s = { 0 };
			size_t idx[8], nc;

			/* Only one foot down, so the sum is this foot's. */
			nc = gait_model_contacts(fx->m, t, idx, 8);
			if (nc != 1)
				continue;
			gait_model_render(fx->m, t, sum_kpa, &s);
			assert_true(s.max_idx < walkway_sensels(&fx->w));
			assert_float_equal(s.kpa_sum * 1000.0 * area_m2,
					   gait_footfall_force(f, t),
					   1e-6 * gait_footfall_force(f, t));
			checked++;
		}
	}
	assert_true(checked > 20);
}

/* ---- Force curve against the Moticon fixture ------------------------------------- */

/* The model's mean curve, segmented exactly like the fixture's. */
static int model_curve(const struct gait_model *m, double curve[CURVE_POINTS])
{
	const struct footfall *f = gait_model_footfall(m, 2);
	double x[2000];
	size_t n = 0;
	int64_t t;

	/* 100 Hz like the insoles, 50 ms of swing on each side. */
	for (t = (int64_t)f->ic_us - 50000;
	     t < (int64_t)f->to_us + 50000 && n < 2000; t += 10000)
		x[n++] = gait_footfall_force(f, (uint64_t)t);
	return stance_mean_curve(x, n, curve);
}

static void test_sim_model_force_curve_like_moticon(void **state)
{
	struct fx *fx = *state;
	double ref[CURVE_POINTS], mc[CURVE_POINTS], half[CURVE_POINTS];
	double r, bw, peak = 0;
	char where[2200];
	size_t k;
	int ret;

	ret = moticon_reference_curve(ref, where, sizeof(where));
	if (ret == -ENOENT) {
		/* cmocka 1.1 cannot say why; stderr does. */
		fprintf(stderr, "# SKIP Moticon fixture not found in: %s\n",
			where);
		skip();
	}
	assert_int_equal(ret, 0);

	build(fx, 2);
	assert_int_equal(model_curve(fx->m, mc), 1);
	r = pearson(mc, ref, CURVE_POINTS);
	print_message("# model vs Moticon stance curve: r = %.3f\n", r);
	assert_true(r >= 0.95);

	/* The test can tell: a single hump does not pass. */
	for (k = 0; k < CURVE_POINTS; k++)
		half[k] = sin(M_PI * k / (CURVE_POINTS - 1));
	assert_true(pearson(half, ref, CURVE_POINTS) < 0.9);

	/* Peaks between 1.0 and 1.2 body weights. */
	bw = gait_model_body_weight_n(fx->m);
	for (k = 0; k <= 1000; k++)
		peak = fmax(peak, gait_force_at(gait_model_footfall(fx->m, 2),
						 k / 1000.0));
	assert_true(peak >= bw && peak <= 1.2 * bw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sim_model_params_resolve,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_normal_walk_matches_parameters,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_same_seed_same_walk,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_duration_bounds_walk,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_antalgic_shortens_painful_stance,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_asymmetric_step_lengths,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_shuffling_flattens_roll,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_turns_beyond_walkway,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_render_conserves_force,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_model_force_curve_like_moticon,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
