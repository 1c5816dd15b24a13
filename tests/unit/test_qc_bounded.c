// SPDX-License-Identifier: GPL-2.0
/*
 * What makes gaitcap qc's memory independent of the session's length
 * (docs/qc.md, "Memory and speed"): histogram percentiles against GSL's
 * exact ones, within the documented resolution; the load envelope keeping
 * every peak; the decimated path; the streaming per-step overlay.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "qc/qc.h"
#include "qc/qhist.h"

/* Deterministic noise in [0, 1): a hash of @i. */
static double u01(uint64_t i)
{
	uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

#define N 100000

/* Four kinds of data qc meets: intervals, loads, signed forces, codes. */
static double value(int kind, size_t i)
{
	switch (kind) {
	case 0:	/* per-sample intervals: 10 ms, jitter, a few late ones */
		return u01(i) < 0.02 ? 0.02 + 0.01 * u01(i + N) :
		       0.01 + 0.0004 * (u01(i + N) - 0.5);
	case 1:	/* summed load over three decades */
		return pow(10, 3 * u01(i));
	case 2:	/* refined force: zeros, small negatives, a stance range */
		return u01(i) < 0.3 ? 0 : u01(i) < 0.4 ? -0.5 * u01(i + N) :
		       800 * u01(i + N);
	default: /* integer codes times a scale */
		return floor(4096 * u01(i)) * 0.25;
	}
}

static double *exact(int kind, struct qhist *h)
{
	double *v = malloc(N * sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < N; i++) {
		v[i] = value(kind, i);
		assert_int_equal(qh_add(h, v[i]), 0);
	}
	gsl_sort(v, 1, N);
	return v;
}

/*
 * Each percentile within half a bin (1/2048 of the values it interpolates
 * between) of the exact one: one bin off would be twice that.
 */
static void test_qhist_quantiles_within_resolution(void **state)
{
	static const double qs[] = { 0, 0.01, 0.05, 0.25, 0.5, 0.95, 0.99, 1 };

	(void)state;
	for (int kind = 0; kind < 4; kind++) {
		struct qhist h = { 0 };
		double *v = exact(kind, &h);

		assert_int_equal(h.n, N);
		for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
			double want = gsl_stats_quantile_from_sorted_data(v, 1, N, qs[k]);
			size_t lhs = (size_t)(qs[k] * (N - 1));
			double span = fmax(fabs(v[lhs]), fabs(v[lhs + (lhs < N - 1)]));
			double got = qh_quantile(&h, qs[k]);

			assert_true(fabs(got - want) <= span / (2.0 * QH_SUB) + 1e-15);
		}
		free(v);
		qh_free(&h);
	}
}

/* timestamp_jitter's statistic: p95 of |interval - median|. */
static void test_qhist_deviation_quantile(void **state)
{
	struct qhist h = { 0 };
	double *v = exact(0, &h), *d = malloc(N * sizeof(*d));
	double med = gsl_stats_quantile_from_sorted_data(v, 1, N, 0.5), want, got;

	(void)state;
	assert_non_null(d);
	for (size_t i = 0; i < N; i++)
		d[i] = fabs(v[i] - med);
	gsl_sort(d, 1, N);
	want = gsl_stats_quantile_from_sorted_data(d, 1, N, 0.95);
	got = qh_dev_quantile(&h, qh_quantile(&h, 0.5), 0.95);
	/* Both the median and each value are within 1/2048 of themselves. */
	assert_true(fabs(got - want) <= (2 * med + want) / (2.0 * QH_SUB));
	/* The late intervals (2 %) are outside the 95th percentile. */
	assert_true(want < 0.00021);
	free(d);
	free(v);
	qh_free(&h);
}

/* Identical values: no deviation at all, whatever their bin's centre. */
static void test_qhist_identical_values_exact(void **state)
{
	struct qhist h = { 0 };

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(qh_add(&h, 0.0123), 0);
	assert_true(qh_quantile(&h, 0.5) == 0.0123);
	assert_true(qh_dev_quantile(&h, qh_quantile(&h, 0.5), 0.95) == 0);
	assert_true(isnan(qh_quantile(&(struct qhist){ 0 }, 0.5)));
	qh_free(&h);
}

/* Few values far apart: between two ranks, interpolated as GSL does. */
static void test_qhist_interpolates_like_gsl(void **state)
{
	double v[] = { 1, 2, 3, 4, 10 };
	struct qhist h = { 0 };

	(void)state;
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(qh_add(&h, v[i]), 0);
	for (double q = 0; q <= 1; q += 0.05) {
		double want = gsl_stats_quantile_from_sorted_data(v, 1, 5, q);

		assert_true(fabs(qh_quantile(&h, q) - want) <= want / (2.0 * QH_SUB) * (1 + 1e-9));
	}
	qh_free(&h);
}

/* saturation's "loaded" count: exact but within a bin of the threshold. */
static void test_qhist_count_above(void **state)
{
	struct qhist h = { 0 };
	double *v = exact(1, &h), thr = 123.4;
	uint64_t want = 0, near = 0, got;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		want += v[i] > thr;
		near += fabs(v[i] - thr) <= thr / QH_SUB;
	}
	got = qh_count_above(&h, thr);
	assert_true(got + near >= want && got <= want + near);
	assert_true(near < want / 100);
	free(v);
	qh_free(&h);
}

/* Memory follows the values' range, not their number. */
static void test_qhist_memory_bounded(void **state)
{
	struct qhist h = { 0 };
	int blocks = 0;

	(void)state;
	for (size_t i = 0; i < 20 * N; i++)
		assert_int_equal(qh_add(&h, value(0, i % N)), 0);
	for (int g = 0; g < 2; g++)
		for (int e = 0; e < QH_EXPS; e++)
			blocks += h.blk[g][e] != NULL;
	/* 0.0098..0.03 s: exponents -6 and -5 only. */
	assert_int_equal(blocks, 2);
	assert_int_equal(h.n, 20 * N);
	qh_free(&h);
}

/* A gait-like load (a stance of 0.6 s, 0.4 s of swing), 100 Hz. */
static double gait(double t, double amp)
{
	double ph = fmod(t, 1.0);

	return ph < 0.6 ? amp * sin(M_PI * ph / 0.6) : 0;
}

/* Ten hours at 100 Hz in 4096 bins; one sample's spike and dip survive. */
static void test_env_keeps_every_peak(void **state)
{
	struct qc_envelope e = { 0 };
	const uint64_t n = 10ull * 3600 * 100, spike = 2345678, dip = 3000001;
	double hi = -INFINITY, lo = INFINITY;
	size_t at_spike, at_dip;

	(void)state;
	for (uint64_t i = 0; i < n; i++) {
		double t = i / 100.0, y = gait(t, 800);

		if (i == spike)
			y = 5000;
		if (i == dip)
			y = -300;
		assert_int_equal(qc_env_add(&e, t, y), 0);
	}
	assert_true(e.n == n);
	assert_true(e.nbins <= QC_ENV_BINS && e.nbins > QC_ENV_BINS / 2);
	assert_true(e.y_max == 5000 && e.y_min == -300);
	for (size_t i = 0; i < e.nbins; i++) {
		hi = fmax(hi, e.bin[i].hi);
		lo = fmin(lo, e.bin[i].lo);
	}
	assert_true(hi == 5000 && lo == -300);
	at_spike = (size_t)((spike / 100.0 - e.t_start) / e.width);
	at_dip = (size_t)((dip / 100.0 - e.t_start) / e.width);
	assert_true(e.bin[at_spike].hi == 5000);
	assert_true(e.bin[at_dip].lo == -300);
	/* Every other bin holds a whole number of strides: 0 .. 800. */
	assert_true(e.bin[10].lo == 0 && fabs(e.bin[10].hi - 800) < 0.01);
	free(e.bin);
}

/* first, lo, hi, last in time order, through merges. */
static void test_env_bin_order(void **state)
{
	static const float up[] = { 5, 1, 9, 3 }, down[] = { 5, 9, 1, 3 };
	struct qc_envelope a = { 0 }, b = { 0 };
	struct qc_env_bin m;

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(qc_env_add(&a, i * 1e-4, up[i]), 0);
		assert_int_equal(qc_env_add(&b, i * 1e-4, down[i]), 0);
	}
	assert_int_equal(a.nbins, 1);
	assert_true(a.bin[0].first == 5 && a.bin[0].lo == 1 && a.bin[0].hi == 9 &&
		    a.bin[0].last == 3 && a.bin[0].lo_first);
	assert_false(b.bin[0].lo_first);
	/* a then b: lowest (1) in both, a's first; highest (9) too: a's order. */
	m = a.bin[0];
	qc_env_bin_merge(&m, &b.bin[0]);
	assert_true(m.lo_first && m.n == 8 && m.first == 5 && m.last == 3);
	/* A later, higher bin: its highest comes after a's lowest. */
	m = b.bin[0];
	b.bin[0].hi = 12;
	b.bin[0].lo = 4;
	qc_env_bin_merge(&m, &b.bin[0]);
	assert_true(m.lo_first && m.hi == 12 && m.lo == 1);
	/* A later, lower one: its lowest comes after a's highest. */
	m = a.bin[0];
	b.bin[0].hi = 6;
	b.bin[0].lo = -2;
	qc_env_bin_merge(&m, &b.bin[0]);
	assert_false(m.lo_first);
	free(a.bin);
	free(b.bin);
}

/* The kept points are every stride-th, evenly, at most QC_PATH_MAX. */
static void test_path_decimation(void **state)
{
	struct qc_series s = { 0 };
	const size_t n = 1000003;

	(void)state;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(qc_path_push(&s, (double)i, 0), 0);
	assert_true(s.n <= QC_PATH_MAX && s.n > QC_PATH_MAX / 2);
	assert_true(s.stride >= n / QC_PATH_MAX);
	for (size_t i = 0; i < s.n; i++)
		assert_true(s.p[i].x == (float)(i * s.stride));
	assert_true((s.n - 1) * s.stride <= n - 1 && s.n * s.stride > n - 1);
	free(s.p);
}

/*
 * 2000 steps, each with its own peak; the first is not drawn (the range
 * was not known yet), all others are, resampled over their stance.
 */
static void test_steps_streamed(void **state)
{
	struct qc_steps st = { 0 };
	const int steps = 2000;
	double sum = 0;

	(void)state;
	for (int i = 0; i < steps * 100 + 50; i++) {
		double t = i / 100.0, amp = 600 + 0.1 * (int)t;

		assert_int_equal(qc_steps_add(&st, t, gait(t, amp)), 0);
		if (i % 100 == 30 && (int)t >= 1 && (int)t < steps)
			sum += amp;
	}
	assert_true(st.n == steps - 1);
	/* Peak at 50 % of the stance: the mean of the drawn steps' peaks. */
	assert_true(fabs(st.sum[50] / st.n - sum / st.n) < 0.005 * sum / st.n);
	assert_true(fabs(st.min[50] - 600.1) < 3 && fabs(st.max[50] - 799.9) < 3);
	assert_true(st.sum[0] / st.n < 0.2 * sum / st.n);
	/* Kept: steps 0, stride, 2 stride, ... of those drawn. */
	assert_true(st.n_keep <= QC_STEP_KEEP && st.n_keep > QC_STEP_KEEP / 2);
	for (size_t k = 0; k < st.n_keep; k++)
		assert_true(fabs(st.keep[k][50] - (600.1 + 0.1 * (double)(k * st.keep_stride))) < 3);
	qc_steps_free(&st);
}

/* Standing for a minute: one stance of 6000 samples, in a bounded buffer. */
static void test_steps_long_stance(void **state)
{
	struct qc_steps st = { 0 };

	(void)state;
	for (int i = 0; i < 300; i++)	/* two steps to learn the range */
		assert_int_equal(qc_steps_add(&st, i / 100.0, gait(i / 100.0, 900)), 0);
	for (int i = 0; i <= 6000; i++)	/* a ramp from 100 to 900 */
		assert_int_equal(qc_steps_add(&st, 3 + i / 100.0, 100 + 800 * i / 6000.0), 0);
	assert_int_equal(qc_steps_add(&st, 63.01, 0), 0);
	assert_true(st.n == 3);
	assert_true(st.n_buf <= QC_STEP_BUF);
	for (int p = 0; p < QC_STEP_PTS; p += 10)
		assert_true(fabs(st.keep[2][p] - (100 + 8.0 * p)) < 2);
	/* A blip shorter than a stance is not a step. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(qc_steps_add(&st, 64 + i / 100.0, i < 5 ? 800 : 0), 0);
	assert_true(st.n == 3);
	qc_steps_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qhist_quantiles_within_resolution),
		cmocka_unit_test(test_qhist_deviation_quantile),
		cmocka_unit_test(test_qhist_identical_values_exact),
		cmocka_unit_test(test_qhist_interpolates_like_gsl),
		cmocka_unit_test(test_qhist_count_above),
		cmocka_unit_test(test_qhist_memory_bounded),
		cmocka_unit_test(test_env_keeps_every_peak),
		cmocka_unit_test(test_env_bin_order),
		cmocka_unit_test(test_path_decimation),
		cmocka_unit_test(test_steps_streamed),
		cmocka_unit_test(test_steps_long_stance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
