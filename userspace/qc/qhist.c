// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded-memory quantiles for gaitcap qc (docs/qc.md, "Percentiles").
 * x = ±2^(e-1) * (1 + f), 0 <= f < 1: one block of QH_SUB bins per sign and
 * exponent e, bin floor(f * QH_SUB). A bin is 1/QH_SUB of its value wide at
 * most, and stands for its centre: within 0.05 % of every value in it.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "qc/qhist.h"

int qh_add(struct qhist *h, double x)
{
	int e, neg = x < 0;
	unsigned int s;
	double m;

	if (isnan(x))
		return 0;
	if (!h->n || x < h->min)
		h->min = x;
	if (!h->n || x > h->max)
		h->max = x;
	h->n++;
	m = frexp(fabs(x), &e);		/* m in [0.5, 1); e unset if infinite */
	if (x == 0 || (isfinite(x) && e < QH_EXP_MIN)) {
		h->zero++;
		return 0;
	}
	if (!isfinite(x) || e > QH_EXP_MAX) {
		e = QH_EXP_MAX;
		s = QH_SUB - 1;
	} else {
		s = (unsigned int)((2 * m - 1) * QH_SUB);
		if (s >= QH_SUB)
			s = QH_SUB - 1;
	}
	if (!h->blk[!neg][e - QH_EXP_MIN]) {
		h->blk[!neg][e - QH_EXP_MIN] = calloc(QH_SUB, sizeof(uint32_t));
		if (!h->blk[!neg][e - QH_EXP_MIN]) {
			h->n--;
			return -ENOMEM;
		}
	}
	h->blk[!neg][e - QH_EXP_MIN][s]++;
	return 0;
}

void qh_free(struct qhist *h)
{
	for (int g = 0; g < 2; g++)
		for (int i = 0; i < QH_EXPS; i++)
			free(h->blk[g][i]);
	*h = (struct qhist){ 0 };
}

struct bins {
	double *v;
	uint64_t *c;
	size_t n;
};

static void put(struct bins *b, const struct qhist *h, double v, uint64_t c)
{
	if (!c)
		return;
	/* The extreme bins stand for the exact extremes, not their centres. */
	b->v[b->n] = v < h->min ? h->min : v > h->max ? h->max : v;
	b->c[b->n++] = c;
}

/* The non-empty bins in ascending order of value, at their centres. */
static int collect(const struct qhist *h, struct bins *b)
{
	size_t cap = 1;

	for (int g = 0; g < 2; g++)
		for (int i = 0; i < QH_EXPS; i++)
			if (h->blk[g][i])
				cap += QH_SUB;
	b->n = 0;
	b->v = malloc(cap * sizeof(*b->v));
	b->c = malloc(cap * sizeof(*b->c));
	if (!b->v || !b->c) {
		free(b->v);
		free(b->c);
		return -ENOMEM;
	}
	for (int i = QH_EXPS - 1; i >= 0; i--)
		for (int s = QH_SUB - 1; h->blk[0][i] && s >= 0; s--)
			put(b, h, -ldexp(1 + (s + 0.5) / QH_SUB, i + QH_EXP_MIN - 1),
			    h->blk[0][i][s]);
	put(b, h, 0, h->zero);
	for (int i = 0; i < QH_EXPS; i++)
		for (unsigned int s = 0; h->blk[1][i] && s < QH_SUB; s++)
			put(b, h, ldexp(1 + (s + 0.5) / QH_SUB, i + QH_EXP_MIN - 1),
			    h->blk[1][i][s]);
	return 0;
}

/* The value of rank @r (0-based) among @b's counts. */
static double rank(const struct bins *b, uint64_t r)
{
	uint64_t cum = 0;

	for (size_t i = 0; i < b->n; i++) {
		cum += b->c[i];
		if (r < cum)
			return b->v[i];
	}
	return b->n ? b->v[b->n - 1] : NAN;
}

/* gsl_stats_quantile_from_sorted_data()'s interpolation between ranks. */
static double quantile_of(const struct bins *b, uint64_t n, double q)
{
	double idx = q * (double)(n - 1), delta;
	uint64_t lhs;

	if (!n)
		return NAN;
	lhs = (uint64_t)idx;
	delta = idx - (double)lhs;
	if (lhs >= n - 1)
		return rank(b, n - 1);
	return (1 - delta) * rank(b, lhs) + delta * rank(b, lhs + 1);
}

double qh_quantile(const struct qhist *h, double q)
{
	struct bins b;
	double v;

	if (!h->n || collect(h, &b))
		return NAN;
	v = quantile_of(&b, h->n, q);
	free(b.v);
	free(b.c);
	return v;
}

double qh_dev_quantile(const struct qhist *h, double c, double q)
{
	struct bins b, d;
	size_t i, j = 0;
	double v = NAN;

	if (!h->n || collect(h, &b))
		return NAN;
	d.v = malloc((b.n + 1) * sizeof(*d.v));
	d.c = malloc((b.n + 1) * sizeof(*d.c));
	if (!d.v || !d.c)
		goto out;
	/* Merge outwards from @c: the deviations come out in order. */
	while (j < b.n && b.v[j] < c)
		j++;
	i = j;
	d.n = 0;
	while (i > 0 || j < b.n) {
		bool left = j >= b.n || (i > 0 && c - b.v[i - 1] <= b.v[j] - c);

		if (left) {
			i--;
			d.v[d.n] = c - b.v[i];
			d.c[d.n++] = b.c[i];
		} else {
			d.v[d.n] = b.v[j] - c;
			d.c[d.n++] = b.c[j];
			j++;
		}
	}
	v = quantile_of(&d, h->n, q);
out:
	free(d.v);
	free(d.c);
	free(b.v);
	free(b.c);
	return v;
}

uint64_t qh_count_above(const struct qhist *h, double thr)
{
	struct bins b;
	uint64_t n = 0;

	if (!h->n || collect(h, &b))
		return 0;
	for (size_t i = 0; i < b.n; i++)
		if (b.v[i] > thr)
			n += b.c[i];
	free(b.v);
	free(b.c);
	return n;
}
