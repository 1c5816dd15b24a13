// SPDX-License-Identifier: GPL-2.0
/*
 * Each insole's clock onto the host's: host = dev + offset + drift x
 * (dev - ref). docs/gait-parameters.md ("Time") gives the reasoning:
 * the drift comes from the arrival envelope (the fastest notification of
 * each second, fitted by GSL's bisquare robust regression), the offset
 * from the CLOCK_SYNC records, each of which bounds it from both sides
 * (the insole read its clock after the request left and before the answer
 * came back).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "refine/refine_int.h"

int64_t refine_clock_map(const struct refine_clock_fit *f, uint64_t dev_us)
{
	int64_t d = (int64_t)dev_us * 1000;

	return d + (int64_t)llround(f->offset_ns +
				    f->drift * (double)(d - f->dev_ref_ns));
}

/* y = c0 + c1 x, robustly; *@sigma (may be NULL): the residuals' robust sigma. */
static int robust_line(const double *x, const double *y, size_t n,
		       double *c0, double *c1, double *sigma)
{
	gsl_multifit_robust_workspace *ws;
	gsl_matrix *X = NULL, *cov = NULL;
	gsl_vector *Y = NULL, *c = NULL;
	int ret = -ENOMEM;

	if (n < 3)
		return -EINVAL;
	ws = gsl_multifit_robust_alloc(gsl_multifit_robust_bisquare, n, 2);
	X = gsl_matrix_alloc(n, 2);
	cov = gsl_matrix_alloc(2, 2);
	Y = gsl_vector_alloc(n);
	c = gsl_vector_alloc(2);
	if (!ws || !X || !cov || !Y || !c)
		goto out;
	for (size_t i = 0; i < n; i++) {
		gsl_matrix_set(X, i, 0, 1.0);
		gsl_matrix_set(X, i, 1, x[i]);
		gsl_vector_set(Y, i, y[i]);
	}
	ret = gsl_multifit_robust(X, Y, c, cov, ws);
	/* Too few iterations still leaves the best estimate so far. */
	if (ret && ret != GSL_EMAXITER) {
		ret = -EDOM;
		goto out;
	}
	ret = 0;
	*c0 = gsl_vector_get(c, 0);
	*c1 = gsl_vector_get(c, 1);
	if (sigma)
		*sigma = gsl_multifit_robust_statistics(ws).sigma;
out:
	gsl_vector_free(c);
	gsl_vector_free(Y);
	gsl_matrix_free(cov);
	gsl_matrix_free(X);
	if (ws)
		gsl_multifit_robust_free(ws);
	return ret;
}

struct crec {
	double x;			/* device time since the reference, s */
	double lo, hi;			/* host - device bounds, ms */
};

/*
 * The feasible offsets at drift @e (ms per s): every record's [lo, hi]
 * shifted by e x; the (r+1)-th largest lower and smallest upper bound, so
 * that r wrong records do not empty it. Returns U - L (< 0: infeasible).
 */
static double feasible(const struct crec *cr, size_t m, size_t r, double e,
		       double *L, double *U)
{
	double top[8], bot[8];
	size_t k = r + 1 < 8 ? r + 1 : 8;

	for (size_t j = 0; j < k; j++) {
		top[j] = -INFINITY;
		bot[j] = INFINITY;
	}
	for (size_t i = 0; i < m; i++) {
		double lo = cr[i].lo - e * cr[i].x, hi = cr[i].hi - e * cr[i].x;
		size_t j;

		/* keep the k largest lows and k smallest highs, sorted */
		for (j = k; j > 0 && top[j - 1] < lo; j--)
			if (j < k)
				top[j] = top[j - 1];
		if (j < k)
			top[j] = lo;
		for (j = k; j > 0 && bot[j - 1] > hi; j--)
			if (j < k)
				bot[j] = bot[j - 1];
		if (j < k)
			bot[j] = hi;
	}
	*L = top[k - 1];
	*U = bot[k - 1];
	return *U - *L;
}

/*
 * Drift and offset that leave the records the most room: the centre of the
 * feasible band at the drift where it is widest. Records that make the band
 * empty are outliers: the fewest of them are set aside (at most a tenth).
 */
static void bounded_fit(const struct crec *cr, size_t m, double e0, double w,
			double *e_out, double *c_out, double *half)
{
	double L = 0, U = 0, be = e0;

	for (size_t r = 0; r <= 7 && r <= m / 10; r++) {
		double best = -INFINITY, step = w / 200;

		be = e0;
		for (int pass = 0; pass < 3; pass++) {
			double lo_e = be - 200 * step, hi_e = be + 200 * step;

			for (double e = lo_e; e <= hi_e; e += step) {
				double slack = feasible(cr, m, r, e, &L, &U);

				if (slack > best) {
					best = slack;
					be = e;
				}
			}
			step /= 100;
		}
		if (best >= 0)
			break;
	}
	feasible(cr, m, 0, be, &L, &U);
	if (U < L)	/* some records set aside: the band of the rest */
		feasible(cr, m, m / 10 < 7 ? m / 10 : 7, be, &L, &U);
	*e_out = be;
	*c_out = (L + U) / 2;
	*half = (U - L) / 2;
}

int refine_clock_fit(struct refine *R, struct ins *in)
{
	struct refine_clock_fit *f = &in->fit;
	size_t n = in->n_bins, nc = gcs_reader_n_clocks(R->r), m = 0;
	double *x = NULL, *y = NULL, c0 = 0, c1 = 0;
	struct crec *cr = NULL;
	int ret = -ENOMEM;

	memset(f, 0, sizeof(*f));
	f->stream = in->stream;
	f->rec_sigma_ns = f->rec_unc_ns = NAN;
	if (!in->n_bins)
		return 0;		/* no sample: nothing to map */
	f->dev_ref_ns = (int64_t)in->bins[0].dev_ns;
	x = calloc(n + nc + 1, sizeof(*x));
	y = calloc(n + nc + 1, sizeof(*y));
	cr = calloc(nc + 1, sizeof(*cr));
	if (!x || !y || !cr)
		goto out;
	/*
	 * The arrival envelope (fastest notification of each second): a map
	 * good to a few ms, enough to unwrap the records' clocks, and the map
	 * itself when there are no records. Seconds and ms keep GSL scaled.
	 */
	for (size_t i = 0; i < n; i++) {
		x[i] = (double)(in->bins[i].dev_ns - f->dev_ref_ns) / 1e9;
		y[i] = (double)in->bins[i].lat_ns / 1e6;
	}
	f->n_bins = (unsigned int)n;
	if (robust_line(x, y, n, &c0, &c1, NULL)) {
		double best = INFINITY;

		for (size_t i = 0; i < n; i++)
			best = fmin(best, y[i]);
		c0 = best;
		c1 = 0;
	} else {
		double ss = 0;

		for (size_t i = 0; i < n; i++)
			ss += (y[i] - c0 - c1 * x[i]) * (y[i] - c0 - c1 * x[i]);
		f->residual_ns = sqrt(ss / (double)n) * 1e6;
	}
	f->offset_ns = c0 * 1e6;
	f->drift = c1 * 1e-3;	/* ms per s */
	f->ok = true;

	for (size_t i = 0; i < nc; i++) {
		const struct gcs_clock_rec *c = gcs_reader_clock(R->r, i);
		uint32_t raw;
		int64_t est, k, dev, base;

		if (c->s.stream != in->stream || !(c->s.flags & GCS_CLOCKREC_F_DEVICE) ||
		    c->s.uncertainty_ns < 0)
			continue;
		f->n_records++;
		raw = (uint32_t)(uint64_t)(c->s.device_ns / 1000);
		est = (c->s.mono_ns - (int64_t)f->offset_ns) / 1000;
		k = (int64_t)llround((double)(est - (int64_t)raw) / 4294967296.0);
		dev = ((int64_t)raw + k * 4294967296ll) * 1000;
		base = c->s.mono_ns - dev;
		cr[m].x = (double)(dev - f->dev_ref_ns) / 1e9;
		cr[m].lo = (double)(base - c->s.uncertainty_ns) / 1e6;
		cr[m].hi = (double)(base + c->s.uncertainty_ns) / 1e6;
		m++;
	}
	if (m >= 3) {
		double e0 = c1, b0 = c0, w, half, sigma;

		/*
		 * For qc (docs/qc.md, clock_residual): the records' device time
		 * on host time (ms on s), robustly, as qc fits the session's.
		 */
		for (size_t i = 0; i < m; i++) {
			x[i] = cr[i].x + (cr[i].lo + cr[i].hi - cr[0].lo - cr[0].hi) / 2e3;
			y[i] = cr[i].x * 1e3;
		}
		if (!robust_line(x, y, m, &b0, &e0, &sigma))
			f->rec_sigma_ns = sigma * 1e6;
		for (size_t i = 0; i < m; i++)
			y[i] = (cr[i].hi - cr[i].lo) / 2;
		gsl_sort(y, 1, m);
		f->rec_unc_ns = gsl_stats_median_from_sorted_data(y, 1, m) * 1e6;
		/* GSL's robust line through the midpoints: where to search. */
		e0 = c1;
		b0 = c0;
		for (size_t i = 0; i < m; i++) {
			x[i] = cr[i].x;
			y[i] = (cr[i].lo + cr[i].hi) / 2;
		}
		if (robust_line(x, y, m, &b0, &e0, NULL))
			e0 = c1;
		w = 0.5;	/* +-500 ppm around it */
		bounded_fit(cr, m, e0, w, &c1, &c0, &half);
		f->drift = c1 * 1e-3;
		f->offset_ns = c0 * 1e6;
		f->bound_ns = half >= 0 ? half * 1e6 : NAN;
		f->from_records = true;
	} else if (m) {
		/* Too few for a slope: the envelope's drift, the records' offset. */
		double L, U;

		feasible(cr, m, 0, c1, &L, &U);
		f->offset_ns = (L <= U ? (L + U) / 2 : (L + U) / 2) * 1e6;
		/* Exact records (an import's) give a zero band: rounding may invert it. */
		f->bound_ns = U - L > -1e-6 ? fmax(U - L, 0) / 2 * 1e6 : NAN;
		f->from_records = true;
	}
	if (m) {
		double ss = 0;

		for (size_t i = 0; i < m; i++) {
			double fit = f->offset_ns / 1e6 + f->drift * 1e3 * cr[i].x;
			double mid = (cr[i].lo + cr[i].hi) / 2;

			if (cr[i].lo > fit + 1e-6 || cr[i].hi < fit - 1e-6)
				f->n_rejected++;
			ss += (mid - fit) * (mid - fit);
		}
		f->n_used = (unsigned int)m - f->n_rejected;
		f->residual_ns = sqrt(ss / (double)m) * 1e6;
	}
	ret = 0;
out:
	free(cr);
	free(y);
	free(x);
	return ret;
}
